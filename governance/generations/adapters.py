"""One adapter per provider kind: which operations its API has and how it spells each request.

The gateway speaks OpenAI's Videos API to clients whatever the provider; the worker asks
the environment's provider through its adapter. Views and services never see these
differences. Add a provider kind here (and to `catalog.models.ProviderKind`), nowhere else.
"""

import contextlib
from collections.abc import Iterator

from governance.catalog.models import Provider, ProviderKind
from governance.generations.models import Character, Generation
from governance.generations.parsing import character_ids, with_character_ids
from governance.generations.upstream import FilePart, UpstreamClient, UpstreamError, client_for
from governance.policies.engine import (
    Operation,
)

EXTENSION_FIELDS = ("characters", "storyboard", "style")


class OpenAIVideosAdapter:
    """OpenAI's Videos API, as OpenAI, resellers and the built-in Sora simulator serve it."""

    operations = frozenset({Operation.CREATE, Operation.REMIX, Operation.EDIT, Operation.EXTEND, Operation.CHARACTER})
    seconds_field = "seconds"

    def __init__(self, provider: Provider):
        self.provider = provider
        self.client: UpstreamClient = client_for(provider)

    def start(self, generation: Generation) -> dict:
        """Submit a generation's job upstream; returns the provider's video object."""
        self._check_offered(generation.operation)
        key = f"generation-{generation.video_id}"
        with self._files(generation) as files:
            if generation.operation == Operation.REMIX:
                path = f"videos/{self._source_upstream_id(generation)}/remix"
                return self.client.post(path, fields={"prompt": generation.prompt}, idempotency_key=key)
            if generation.operation in (Operation.EDIT, Operation.EXTEND):
                return self._derive(generation, files, key)
            return self.client.post("videos", fields=self.create_fields(generation), idempotency_key=key, files=files)

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
        path = "videos/edits" if generation.operation == Operation.EDIT else "videos/extensions"
        fields: dict = {"prompt": generation.prompt, **self.derived_model(generation)}
        if generation.operation == Operation.EXTEND:
            fields[self.seconds_field] = self.spell_seconds(generation.parameters["seconds"])
        if not files:
            fields["video"] = {"id": self._source_upstream_id(generation)}
        return self.client.post(path, fields=fields, idempotency_key=key, files=files)

    def derived_model(self, generation: Generation) -> dict:
        """OpenAI picks the model of an edit or extension itself; our simulator is told the governed snapshot."""
        if self.provider.base_url.startswith("builtin:simulator"):
            return {"model": generation.resolved_snapshot}
        return {}

    def create_character(self, generation: Generation) -> dict:
        """Characters answer at once with `{id, name, created_at}`; there is nothing to poll."""
        self._check_offered(Operation.CHARACTER)
        fields = {"name": generation.parameters["name"], **self.derived_model(generation)}
        with self._files(generation) as files:
            return self.client.post(
                "videos/characters", fields=fields, idempotency_key=f"generation-{generation.video_id}", files=files
            )

    def retrieve(self, upstream_id: str) -> dict:
        return self.client.get(f"videos/{upstream_id}")

    def _check_offered(self, operation: str) -> None:
        if operation not in self.operations:
            raise UpstreamError(
                f"{self.provider.name} has no '{operation}' operation.", status=400, code="operation_not_supported"
            )

    @staticmethod
    def _source_upstream_id(generation: Generation) -> str:
        source = generation.remixed_from
        if source is None or not source.upstream_id:
            raise UpstreamError("The source video is no longer in the log.", status=404, code="source_unavailable")
        return source.upstream_id

    @contextlib.contextmanager
    def _files(self, generation: Generation) -> Iterator[list[FilePart]]:
        """The stored uploads this generation sends, opened for streaming and closed afterwards."""
        with contextlib.ExitStack() as stack:
            parts = []
            if generation.input_reference:
                meta = generation.parameters.get("input_reference", {})
                file = stack.enter_context(generation.input_reference.open("rb"))
                parts.append(FilePart("input_reference", meta.get("filename", "reference"), file, meta["content_type"]))
            if generation.source_video:
                meta = generation.parameters.get("video", {})
                file = stack.enter_context(generation.source_video.open("rb"))
                parts.append(FilePart("video", meta.get("filename", "video.mp4"), file, "video/mp4"))
            yield parts


class LumenAdapter(OpenAIVideosAdapter):
    """The simulated Lumen API: OpenAI's paths, but the length is `duration`, an integer; no edits, no characters."""

    operations = frozenset({Operation.CREATE, Operation.REMIX, Operation.EXTEND})
    seconds_field = "duration"

    def spell_seconds(self, seconds: int | None):
        return seconds


ADAPTERS = {ProviderKind.OPENAI: OpenAIVideosAdapter, ProviderKind.LUMEN: LumenAdapter}


def upstream_character_ids(generation: Generation) -> dict[str, str]:
    """Our character ids in a create, mapped to the provider's; only this environment's characters count."""
    ids = character_ids(generation.parameters.get("characters"))
    characters = Character.objects.filter(environment_id=generation.environment_id, character_id__in=ids)
    mapping = {character.character_id: character.upstream_id for character in characters}
    if any(not upstream for upstream in mapping.values()):
        raise UpstreamError("A character this video uses is still being made; trying again shortly.")
    return mapping


def adapter_for(provider: Provider) -> OpenAIVideosAdapter:
    return ADAPTERS.get(provider.kind, OpenAIVideosAdapter)(provider)
