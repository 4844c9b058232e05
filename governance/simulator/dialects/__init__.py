"""The simulator's dialects: each real provider's native protocol, over the same simulated jobs.

A dialect is one module here with `urlpatterns`, mounted at `/simulator/<kind>/` (the
provider's origin, as the gateway's adapter and the provider's SDK take it). It parses the
provider's request into a `services.VideoSpec`, lets `services` accept, pace, fail and serve
the job, and answers in the provider's own shapes: its paths, auth header, job or operation
objects, error bodies, expiring result links and safety refusals.
"""

# Provider kind (the URL prefix) -> module in this package.
DIALECTS: dict[str, str] = {
    "vertex": "vertex",
    "azure-openai": "azure_openai",
    "xai": "xai",
    "gemini": "gemini",
    "runway": "runway",
    "byteplus": "byteplus",
}
