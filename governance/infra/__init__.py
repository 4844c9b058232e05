"""Process plumbing: broker transports, cache backends, the state token, middleware, request ids, metrics,
the PostgreSQL backend and the runner of `make run`. It knows no app of ours; it is an app itself only for
the one table behind the state token (`models.StateChange`)."""
