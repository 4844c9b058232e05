"""The floor: the least a governed `POST /v1/videos` must do, as a bare Django project (see bench/README.md)."""
