from governance.simulator.snapshots import MODEL_TABLE
from tests.simulator.helpers import API, NEW, OLD, assert_openai_error

PRO = "sora-2-pro-2025-10-06"


def test_it_lists_every_snapshot_and_alias_of_the_pack(client, db):
    response = client.get(f"{API}/models")

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == [OLD, NEW, PRO, "sora-2", "sora-2-pro"]
    for model in body["data"]:
        assert model["object"] == "model"
        assert model["owned_by"] == "simulator"
        assert isinstance(model["created"], int)
        assert "shutdown_date" in model and model["shutdown_date"] is None


def test_it_retrieves_one_model(client):
    assert client.get(f"{API}/models/{OLD}").json()["id"] == OLD
    assert_openai_error(client.get(f"{API}/models/sora-9"), 404, "model_not_found", "model")


def test_the_model_table_mirrors_the_catalog_pack():
    assert MODEL_TABLE == {OLD: OLD, NEW: NEW, PRO: PRO, "sora-2": NEW, "sora-2-pro": PRO}
