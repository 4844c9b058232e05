"""OpenAI's Videos API shape: OpenAI-compatible upstreams (LiteLLM, Bifrost, resellers) and the simulated Lumen."""

import contextlib
import datetime as dt
from collections.abc import Iterator

from governance.generations.models import Character, Generation
from governance.generations.parsing import PROVIDER_OPTIONS, character_ids, with_character_ids
from governance.generations.providers.base import ProviderAdapter, UpstreamJob
from governance.generations.upstream import FilePart, UpstreamError
from governance.policies.engine import Operation

# Sent as given: the Videos API's extensions, and provider options an OpenAI-compatible gateway passes on.
EXTENSION_FIELDS = ("characters", "storyboard", "style", *PROVIDER_OPTIONS)


class OpenAIVideosAdapter(ProviderAdapter):
    """OpenAI's Videos API (`/videos`, polled by id), as OpenAI-compatible gateways and the Sora simulator serve it."""

    operations = frozenset({Operation.CREATE, Operation.REMIX, Operation.EDIT, Operation.EXTEND, Operation.CHARACTER})
    idempotent_create = True  # every create carries an Idempotency-Key derived from the generation
    seconds_field = "seconds"
    videos_path = "videos"

    def start(self, generation: Generation) -> UpstreamJob:
        """Submit a generation's job upstream; the Idempotency-Key makes a repeated step find the same job."""
        self.check_offered(generation.operation)
        key = f"generation-{generation.video_id}"
        with self.files(generation) as files:
            if generation.operation == Operation.REMIX:
                path = f"{self.videos_path}/{self.source_upstream_id(generation)}/remix"
                return self.job(self.client.post(path, fields={"prompt": generation.prompt}, idempotency_key=key))
            if generation.operation in (Operation.EDIT, Operation.EXTEND):
                return self.job(self._derive(generation, files, key))
            answer = self.client.post(
                self.videos_path, fields=self.create_fields(generation), idempotency_key=key, files=files
            )
            return self.job(answer)

    def retrieve(self, generation: Generation) -> UpstreamJob:
        return self.job(self.client.get(f"{self.videos_path}/{generation.upstream_id}"))

    def delete(self, generation: Generation) -> None:
        try:
            self.client.delete(f"{self.videos_path}/{generation.upstream_id}")
        except UpstreamError as error:
            if error.status != 404:
                raise

    @contextlib.contextmanager
    def open_media(self, generation: Generation, variant: str, job: UpstreamJob | None = None) -> Iterator:
        """Every variant is at `/videos/{id}/content?variant=`; the API offers a spritesheet as well."""
        path = f"{self.videos_path}/{generation.upstream_id}/content"
        with self.client.stream("GET", path, params={"variant": variant}) as response:
            yield response.iter_bytes(64 * 1024), response.headers.get("Content-Type", "")

    def create_fields(self, generation: Generation) -> dict:
        fields = {
            "model": generation.resolved_snapshot,
            "prompt": generation.prompt,
            self.seconds_field: self.spell_seconds(generation.seconds),
            "size": generation.size,
        }
        fields.update({name: generation.parameters[name] for name in EXTENSION_FIELDS if name in generation.parameters})
        if "characters" in fields:
            fields["characters"] = with_character_ids(fields["characters"], upstream_character_ids(generation))
        image_url = (generation.parameters.get("input_reference") or {}).get("image_url")
        if image_url:
            fields["input_reference"] = {"image_url": image_url}
        return fields

    def spell_seconds(self, seconds: int | None):
        return str(seconds)

    def _derive(self, generation: Generation, files: list[FilePart], key: str) -> dict:
        endpoint = "edits" if generation.operation == Operation.EDIT else "extensions"
        path = f"{self.videos_path}/{endpoint}"
        fields: dict = {"prompt": generation.prompt, **self.derived_model(generation)}
        if generation.operation == Operation.EXTEND:
            fields[self.seconds_field] = self.spell_seconds(generation.parameters["seconds"])
        if not files:
            fields["video"] = {"id": self.source_upstream_id(generation)}
        return self.client.post(path, fields=fields, idempotency_key=key, files=files)

    def derived_model(self, generation: Generation) -> dict:
        """OpenAI picks the model of an edit or extension itself; our simulator is told the governed snapshot."""
        if self.connection.simulated:
            return {"model": generation.resolved_snapshot}
        return {}

    def create_character(self, generation: Generation) -> str:
        """Characters answer at once with `{id, name, created_at}`; there is nothing to poll."""
        self.check_offered(Operation.CHARACTER)
        fields = {"name": generation.parameters["name"], **self.derived_model(generation)}
        with self.files(generation) as files:
            answer = self.client.post(
                f"{self.videos_path}/characters",
                fields=fields,
                idempotency_key=f"generation-{generation.video_id}",
                files=files,
            )
        return str(answer["id"])

    def job(self, answer: dict) -> UpstreamJob:
        """OpenAI's `video` object in our terms; the files are fetched from `/content`, not from links."""
        error = answer.get("error") or {}
        expires_at = answer.get("expires_at")
        return UpstreamJob(
            id=str(answer["id"]),
            status=answer.get("status"),
            progress=max(0, min(100, int(answer.get("progress") or 0))),
            model=str(answer.get("model") or ""),
            error_code=str(error.get("code") or "") if error else "",
            error_message=str(error.get("message") or "") if error else "",
            expires_at=dt.datetime.fromtimestamp(int(expires_at), tz=dt.UTC) if expires_at else None,
        )


class LumenAdapter(OpenAIVideosAdapter):
    """The simulated Lumen API: OpenAI's paths, but the length is `duration`, an integer; no edits, no characters."""

    operations = frozenset({Operation.CREATE, Operation.REMIX, Operation.EXTEND})
    seconds_field = "duration"

    def spell_seconds(self, seconds: int | None):
        return seconds


def upstream_character_ids(generation: Generation) -> dict[str, str]:
    """Our character ids in a create, mapped to the provider's; only this environment's characters count."""
    ids = character_ids(generation.parameters.get("characters"))
    characters = Character.objects.filter(environment_id=generation.environment_id, character_id__in=ids)
    mapping = {character.character_id: character.upstream_id for character in characters}
    if any(not upstream for upstream in mapping.values()):
        raise UpstreamError("A character this video uses is still being made; trying again shortly.")
    return mapping
