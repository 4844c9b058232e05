"""Reading a Videos API request body into plain, typed values, or a clear error."""

import hashlib
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest
from django.http.multipartparser import MultiPartParserError

from governance.generations.errors import ApiError
from governance.generations.text import clean_text, shorten
from governance.generations.uploads import CheckedUpload, LimitedUploadHandler, check_upload, upload_limit
from governance.lib.media import IMAGE_TYPES, VIDEO_TYPES
from governance.policies.engine import DEFAULT_SIZE

MAX_PROMPT_CHARS = 32_000
STORED_PROMPT_CHARS = MAX_PROMPT_CHARS  # longer prompts are refused and kept truncated

# Provider options: extra body fields in OpenAI's request shape, each passed to providers that offer it
# under their own name (docs/providers.md has the table), and each gated like any feature.
PROVIDER_OPTIONS = {
    "negative_prompt": "negative_prompt",
    "seed": "seed",
    "generate_audio": "audio",
    "person_generation": "person_generation",
    "reference_images": "reference_images",
}
PERSON_GENERATION_VALUES = ("allow_all", "allow_adult", "dont_allow")
MAX_REFERENCE_IMAGES = 3
MAX_SEED = 2**32 - 1

# Request parameters beyond prompt/model/seconds/size, and the snapshot feature each one needs.
FEATURE_PARAMETERS = {
    "input_reference": "image_reference",
    "characters": "character_cameos",
    "storyboard": "storyboards",
    "style": "style_fine_tuning",
    **PROVIDER_OPTIONS,
}
CREATE_FIELDS = {"prompt", "model", "seconds", "size", *FEATURE_PARAMETERS}
MAX_EXTENSION_DEPTH = 4
IMAGE_URL_SCHEMES = ("https://", "http://", "data:image/")


@dataclass
class VideoRequest:
    prompt: str
    model: str | None = None
    seconds: int | None = None
    size: str | None = None
    input_reference_file: UploadedFile | None = None
    input_reference_url: str | None = None
    input_reference_sha256: str = ""
    input_reference_upload: CheckedUpload | None = None
    extensions: dict = field(default_factory=dict)

    @property
    def features(self) -> dict[str, str]:
        used = {name: FEATURE_PARAMETERS[name] for name in self.extensions}
        if self.input_reference_file is not None or self.input_reference_url:
            used["input_reference"] = FEATURE_PARAMETERS["input_reference"]
        return used

    @property
    def image_links(self) -> tuple[str, ...]:
        """The parameters that give an image as an http(s) link rather than its bytes (an upload or a data: URI)."""
        links = []
        if self.input_reference_url and self.input_reference_url.lower().startswith(("https://", "http://")):
            links.append("input_reference")
        images = self.extensions.get("reference_images") or []
        if any(image["image_url"].lower().startswith(("https://", "http://")) for image in images):
            links.append("reference_images")
        return tuple(links)

    def parameters(self) -> dict:
        """Every parameter as received, in a form fit for the log (no file bytes, prompt kept separately)."""
        values = {"model": self.model, "seconds": self.seconds, "size": self.size, **self.extensions}
        if self.input_reference_upload is not None:
            values["input_reference"] = self.input_reference_upload.log_entry()
        elif self.input_reference_url:
            values["input_reference"] = {"image_url": self.input_reference_url}
        return {name: value for name, value in values.items() if value is not None}

    @property
    def input_reference_storage_name(self) -> str:
        """Uploads are stored under their hash, whatever the client called them."""
        return self.input_reference_upload.storage_name

    def fingerprint(self) -> str:
        """Identifies the request body, for Idempotency-Key reuse checks."""
        body = {**self.parameters(), "prompt": self.prompt, "input_reference_url": self.input_reference_url}
        return sha256_text(json.dumps(body, sort_keys=True, default=str))


def fields_fingerprint(kind: str, fields: dict) -> str:
    """Identifies a request body as received, even one refused as malformed (for Idempotency-Key checks)."""
    try:
        text = json.dumps(fields, sort_keys=True, default=str)
    except (RecursionError, ValueError):
        text = "unreadable"
    return sha256_text(f"{kind}:{text}")


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def stored_prompt(prompt: str) -> str:
    return clean_text(shorten(prompt, STORED_PROMPT_CHARS))


def read_body(request: HttpRequest) -> tuple[dict, dict]:
    """The request's fields and files, from JSON or a multipart/urlencoded form."""
    try:
        if request.content_type == "application/json":
            return _json_fields(request.body), {}
        if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
            request.upload_handlers.insert(0, LimitedUploadHandler(request))
            fields, files = _form_fields(request), dict(request.FILES.items())
            for name in sorted(request.oversized_uploads):
                raise ApiError("file_too_large", f"'{name}' is larger than the limit of {upload_limit()} bytes.", name)
            for name in sorted(request.unfinished_uploads):
                raise ApiError(
                    "truncated_upload", f"The upload '{name}' was cut off: the multipart body ended inside it.", name
                )
            return fields, files
        if not request.body:
            return {}, {}
        return _json_fields(request.body), {}
    except RequestDataTooBig:
        raise ApiError(
            "request_too_large",
            f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
            "send reference images as multipart file uploads.",
        ) from None
    except (MultiPartParserError, TooManyFieldsSent, SuspiciousOperation) as error:
        raise ApiError("invalid_request", f"The form body could not be read: {error}") from None
    except OSError:  # the client stopped sending mid-body
        raise ApiError("invalid_request", "The request body ended before it was complete.") from None


def _json_fields(body: bytes) -> dict:
    """The body's JSON object, holding only what JSON itself allows: no NaN or Infinity, no endless integer.

    Python's parser accepts NaN, Infinity and numbers too large for a float (which become Infinity);
    no database stores them in a JSON column. An integer of more than `sys.get_int_max_str_digits()`
    digits is refused by the parser itself, with a ValueError that is not a JSONDecodeError.
    """
    try:
        data = json.loads(body or b"{}", parse_constant=_refuse_constant, parse_float=_finite_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ApiError("invalid_json", f"The request body is not valid JSON: {error}") from None
    except RecursionError:
        raise ApiError("invalid_json", "The request body is nested too deeply to be a Videos API request.") from None
    except ValueError:
        raise ApiError(
            "invalid_json",
            f"The request body is not valid JSON for this API: it has an integer of more than "
            f"{sys.get_int_max_str_digits()} digits.",
        ) from None
    if not isinstance(data, dict):
        raise ApiError("invalid_json", "The request body must be a JSON object.")
    return data


def _refuse_constant(name: str):
    raise ApiError("invalid_json", f"The request body is not valid JSON: {name} is not a JSON number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ApiError("invalid_json", f"The request body is not valid JSON for this API: {text[:40]} is out of range.")
    return value


def _form_fields(request: HttpRequest) -> dict:
    """Form fields with the SDK's bracketed names folded back into objects and lists.

    The `openai` SDK sends nested values in multipart as `input_reference[image_url]`,
    `characters[]` or `storyboard[][prompt]`; the n-th value of each `name[][key]`
    belongs to the n-th object of `name`.
    """
    fields: dict = {}
    for name, values in request.POST.lists():
        base, _, rest = name.partition("[")
        if not rest:
            fields[name] = values[-1]
        elif rest == "]":
            _form_container(fields, base, list).extend(values)
        elif rest.startswith("][") and rest.endswith("]") and "[" not in rest[2:-1]:
            items = _form_container(fields, base, list)
            items.extend({} for _ in range(len(values) - len(items)))
            for item, value in zip(items, values, strict=False):
                if not isinstance(item, dict):
                    raise ApiError("invalid_type", f"'{base}' mixes plain values and objects.", base)
                item[rest[2:-1]] = value
        elif rest.endswith("]") and "[" not in rest[:-1]:
            _form_container(fields, base, dict)[rest[:-1]] = values[-1]
        else:
            raise ApiError("invalid_value", f"The form field '{name}' is nested deeper than this API reads.", base)
    return fields


def _form_container(fields: dict, name: str, kind: type):
    container = fields.setdefault(name, kind())
    if not isinstance(container, kind):
        raise ApiError("invalid_type", f"'{name}' is sent both as a {type(container).__name__} and a {kind.__name__}.")
    return container


def parse_video_request(fields: dict, files: dict) -> VideoRequest:
    unknown = sorted((set(fields) | set(files)) - CREATE_FIELDS)
    if unknown:
        raise ApiError("unknown_parameter", f"Unrecognized request argument supplied: {unknown[0]}.", unknown[0])
    video = VideoRequest(
        prompt=parse_prompt(fields.get("prompt")),
        model=_optional_string(fields, "model", 100),
        seconds=_optional_seconds(fields.get("seconds")),
        size=_optional_string(fields, "size", 16),
        extensions={**_parse_extensions(fields), **_parse_provider_options(fields)},
    )
    _parse_input_reference(video, fields.get("input_reference"), files.get("input_reference"))
    return video


def _parse_extensions(fields: dict) -> dict:
    """Feature parameters (characters, storyboard, style) are passed through as given, if well-formed."""
    extensions = {
        name: fields[name] for name in ("characters", "storyboard", "style") if fields.get(name) not in (None, "")
    }
    for name, value in extensions.items():
        if not isinstance(value, (str, list, dict)):
            raise ApiError("invalid_type", f"'{name}' must be a string, a list or an object.", name)
        if _nested_deeper_than(value, MAX_EXTENSION_DEPTH):
            raise ApiError("invalid_value", f"'{name}' is nested more than {MAX_EXTENSION_DEPTH} levels deep.", name)
        for text in _strings_in(value):
            _check_text(text, name)
        if _has_non_finite_number(value):  # fields given as a dict, not parsed from JSON here
            raise ApiError("invalid_value", f"'{name}' holds NaN or Infinity, which JSON has no number for.", name)
    return extensions


def _parse_provider_options(fields: dict) -> dict:
    """Provider options, checked for type here; whether the snapshot and policy allow each is the engine's rule."""
    options = {}
    if (value := _optional_string(fields, "negative_prompt", 2000)) is not None:
        options["negative_prompt"] = value
    if (value := _optional_whole_number(fields.get("seed"), "seed", MAX_SEED)) is not None:
        options["seed"] = value
    if (value := _optional_flag(fields.get("generate_audio"), "generate_audio")) is not None:
        options["generate_audio"] = value
    if (value := _optional_string(fields, "person_generation", 20)) is not None:
        if value not in PERSON_GENERATION_VALUES:
            allowed = ", ".join(PERSON_GENERATION_VALUES)
            raise ApiError(
                "invalid_value", f"'person_generation' must be one of {allowed}; got {value!r}.", "person_generation"
            )
        options["person_generation"] = value
    if fields.get("reference_images") not in (None, "", []):
        options["reference_images"] = _parse_reference_images(fields["reference_images"])
    return options


def _optional_whole_number(value, name: str, maximum: int) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isascii() and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError("invalid_type", f"'{name}' must be a whole number.", name)
    if not 0 <= value <= maximum:
        raise ApiError("invalid_value", f"'{name}' must be between 0 and {maximum}; got {value}.", name)
    return value


def _optional_flag(value, name: str) -> bool | None:
    """A JSON boolean, or "true"/"false" as a multipart form sends it."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise ApiError("invalid_type", f"'{name}' must be true or false.", name)
    return value


def _parse_reference_images(value) -> list[dict]:
    """Up to three images that guide the video's subject or style, each {"image_url": https URL or data: URI}."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ApiError(
            "invalid_type",
            "'reference_images' must be a list of objects such as {\"image_url\": ...}.",
            "reference_images",
        )
    if len(value) > MAX_REFERENCE_IMAGES:
        raise ApiError(
            "invalid_value", f"'reference_images' takes at most {MAX_REFERENCE_IMAGES} images.", "reference_images"
        )
    images = []
    for item in value:
        url = item.get("image_url")
        if set(item) != {"image_url"} or not isinstance(url, str) or not url.startswith(IMAGE_URL_SCHEMES):
            raise ApiError(
                "invalid_value",
                'Each reference image must be {"image_url": an https URL or a data:image/ URI}.',
                "reference_images",
            )
        _check_text(url, "reference_images")
        images.append({"image_url": url})
    return images


def _nested_deeper_than(value, levels: int) -> bool:
    if not isinstance(value, (dict, list)):
        return False
    if levels == 0:
        return True
    items = value.values() if isinstance(value, dict) else value
    return any(_nested_deeper_than(item, levels - 1) for item in items)


def _has_non_finite_number(value) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, list) and any(_has_non_finite_number(item) for item in value)


def _strings_in(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def parse_remix_request(fields: dict) -> str:
    """`POST /videos/{id}/remix`: a prompt and nothing else; returns the prompt."""
    unknown = sorted(set(fields) - {"prompt"})
    if unknown:
        raise ApiError("unknown_parameter", f"Unrecognized request argument supplied: {unknown[0]}.", unknown[0])
    return parse_prompt(fields.get("prompt"))


def parse_prompt(value) -> str:
    if value is None or value == "":
        raise ApiError("missing_required_parameter", "Missing required parameter: 'prompt'.", "prompt")
    if not isinstance(value, str):
        raise ApiError("invalid_type", "'prompt' must be a string.", "prompt")
    _check_text(value, "prompt")
    if len(value) > MAX_PROMPT_CHARS:
        raise ApiError(
            "prompt_too_long",
            f"The prompt has {len(value)} characters; the limit is {MAX_PROMPT_CHARS}.",
            "prompt",
        )
    return value


def _optional_string(fields: dict, name: str, max_length: int) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError("invalid_type", f"'{name}' must be a string.", name)
    if len(value) > max_length:
        raise ApiError("invalid_value", f"'{name}' is longer than {max_length} characters.", name)
    _check_text(value, name)
    return value


def _check_text(value: str, name: str) -> None:
    """Refuse text no database can store: NUL characters and unpaired UTF-16 surrogates."""
    if "\x00" in value:
        raise ApiError("invalid_value", f"'{name}' contains a NUL character.", name)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError("invalid_value", f"'{name}' contains an unpaired surrogate; send valid UTF-8.", name) from None


def _optional_seconds(value) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ApiError("invalid_type", "'seconds' must be a whole number of seconds, such as \"8\".", "seconds")
    if isinstance(value, str) and not (value.isascii() and value.strip().isdigit()):
        raise ApiError("invalid_type", f"'seconds' must be a whole number of seconds; got {value!r}.", "seconds")
    try:
        seconds = int(value)
    except ValueError:
        raise ApiError(
            "invalid_type", f"'seconds' must be a whole number of seconds; got {value!r}.", "seconds"
        ) from None
    if not 0 < seconds <= 600:
        raise ApiError("invalid_value", f"'seconds' must be between 1 and 600; got {seconds}.", "seconds")
    return seconds


def _parse_input_reference(video: VideoRequest, value, upload: UploadedFile | None) -> None:
    if upload is not None:
        checked = check_upload(
            upload,
            param="input_reference",
            kinds=IMAGE_TYPES,
            limit=settings.INPUT_REFERENCE_MAX_BYTES,
        )
        requested = video.size or DEFAULT_SIZE
        if checked.sniffed.size and checked.sniffed.size != requested:
            raise ApiError(
                "invalid_value",
                f"The reference image is {checked.sniffed.size}; it must match the requested size {requested}.",
                "input_reference",
            )
        video.input_reference_upload = checked
        video.input_reference_file = checked.file
        video.input_reference_sha256 = checked.sha256
        return
    if value is None or value == "":
        return
    if isinstance(value, dict) and set(value) == {"image_url"} and isinstance(value["image_url"], str):
        _check_text(value["image_url"], "input_reference")
        if not value["image_url"].lower().startswith(IMAGE_URL_SCHEMES):
            raise ApiError(
                "invalid_value",
                "'input_reference.image_url' must be an https:// or http:// URL or a data:image/ URL.",
                "input_reference",
            )
        video.input_reference_url = value["image_url"]
        video.input_reference_sha256 = sha256_text(value["image_url"])
        return
    if isinstance(value, dict) and "file_id" in value:
        raise ApiError(
            "unsupported_parameter",
            "'input_reference.file_id' is not supported by this gateway; upload the image or pass an image_url.",
            "input_reference",
        )
    raise ApiError(
        "invalid_type", "'input_reference' must be an uploaded image or an object with 'image_url'.", "input_reference"
    )


EXTENSION_SECONDS_CHOICES = (4, 8, 12, 16, 20)  # what the Videos API offers; the snapshot may offer fewer


@dataclass
class SourceRequest:
    """An edit or an extension: a prompt and a source video, by id or uploaded."""

    prompt: str
    source_id: str = ""
    upload: CheckedUpload | None = None
    seconds: int | None = None

    def parameters(self) -> dict:
        values: dict = {}
        if self.source_id:
            values["video"] = {"id": clean_text(self.source_id[:100])}
        if self.upload is not None:
            values["video"] = self.upload.log_entry()
        if self.seconds is not None:
            values["seconds"] = self.seconds
        return values

    def fingerprint(self, kind: str) -> str:
        return sha256_text(json.dumps({"kind": kind, "prompt": self.prompt, **self.parameters()}, sort_keys=True))


def parse_source_request(fields: dict, files: dict, *, extension: bool) -> SourceRequest:
    """`POST /videos/edits` and `/videos/extensions`: the source is `{"id": ...}` or an uploaded MP4."""
    allowed = {"prompt", "video", "seconds"} if extension else {"prompt", "video"}
    unknown = sorted((set(fields) | set(files)) - allowed)
    if unknown:
        raise ApiError("unknown_parameter", f"Unrecognized request argument supplied: {unknown[0]}.", unknown[0])
    request = SourceRequest(prompt=parse_prompt(fields.get("prompt")))
    if extension:
        request.seconds = _extension_seconds(fields.get("seconds"))
    upload, value = files.get("video"), fields.get("video")
    if upload is not None:
        request.upload = check_upload(upload, param="video", kinds=VIDEO_TYPES, limit=settings.UPLOAD_MAX_BYTES)
    elif isinstance(value, dict) and set(value) == {"id"} and isinstance(value["id"], str) and value["id"]:
        _check_text(value["id"], "video")
        request.source_id = value["id"]
    elif value is None or value == "":
        raise ApiError("missing_required_parameter", "Missing required parameter: 'video'.", "video")
    else:
        raise ApiError("invalid_type", "'video' must be an uploaded MP4 or an object with 'id'.", "video")
    return request


def _extension_seconds(value) -> int:
    if value is None or value == "":
        raise ApiError("missing_required_parameter", "Missing required parameter: 'seconds'.", "seconds")
    seconds = _optional_seconds(value)
    if seconds not in EXTENSION_SECONDS_CHOICES:
        raise ApiError(
            "invalid_value",
            f"'seconds' of an extension must be one of {_choices(EXTENSION_SECONDS_CHOICES)}; got {seconds}.",
            "seconds",
        )
    return seconds


def _choices(values) -> str:
    return ", ".join(str(value) for value in values)


MAX_CHARACTER_NAME = 200


@dataclass
class CharacterRequest:
    name: str
    upload: CheckedUpload

    def parameters(self) -> dict:
        return {"name": self.name, "video": self.upload.log_entry()}

    def fingerprint(self) -> str:
        return sha256_text(json.dumps({"kind": "character", **self.parameters()}, sort_keys=True))


def parse_character_request(fields: dict, files: dict) -> CharacterRequest:
    """`POST /videos/characters`: multipart `name` and `video` (an MP4 of the character)."""
    unknown = sorted((set(fields) | set(files)) - {"name", "video"})
    if unknown:
        raise ApiError("unknown_parameter", f"Unrecognized request argument supplied: {unknown[0]}.", unknown[0])
    name = _optional_string(fields, "name", MAX_CHARACTER_NAME)
    if name is None:
        raise ApiError("missing_required_parameter", "Missing required parameter: 'name'.", "name")
    upload = files.get("video")
    if upload is None:
        raise ApiError("missing_required_parameter", "Missing required parameter: 'video' (an MP4 upload).", "video")
    checked = check_upload(upload, param="video", kinds=VIDEO_TYPES, limit=settings.UPLOAD_MAX_BYTES)
    return CharacterRequest(name=name, upload=checked)


def character_ids(value) -> list[str]:
    """The character ids a `characters` parameter names: `["char_…"]` or `[{"id": "char_…"}]`."""
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("id")
        if isinstance(item, str) and item:
            ids.append(item)
    return ids


def with_character_ids(value, mapping: dict[str, str]):
    """The `characters` parameter with each of our ids replaced by the provider's."""
    if isinstance(value, list):
        return [with_character_ids(item, mapping) for item in value]
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return {**value, "id": mapping.get(value["id"], value["id"])}
    if isinstance(value, str):
        return mapping.get(value, value)
    return value
