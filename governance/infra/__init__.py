"""Process plumbing: broker transports, cache backends, middleware, request ids, metrics, the PostgreSQL
backend and the runner of `make run`. It knows no app of ours."""
