"""Every operation's request is read by one parse_submission(): a refusal is a submission too, logged like any other."""

from governance.generations.submissions import parse_submission
from governance.policies.engine import Operation


def test_a_well_formed_create_request_is_a_submission_without_refusal():
    submission, fingerprint = parse_submission(Operation.CREATE, body={"prompt": "a lighthouse", "seconds": "8"})

    assert (submission.operation, submission.prompt, submission.invalid) == ("create", "a lighthouse", None)
    assert submission.request.seconds == 8
    assert fingerprint == parse_submission(Operation.CREATE, body={"prompt": "a lighthouse", "seconds": "8"})[1]


def test_a_malformed_request_carries_its_refusal_and_keeps_its_prompt_for_the_log():
    submission, fingerprint = parse_submission(Operation.CREATE, body={"prompt": "a lighthouse", "seconds": "ten"})

    assert (submission.invalid.code, submission.invalid.param) == ("invalid_type", "seconds")
    assert submission.prompt == "a lighthouse"
    assert fingerprint != parse_submission(Operation.CREATE, body={"prompt": "a lighthouse", "seconds": "8"})[1]


def test_a_refused_character_request_logs_no_prompt():
    submission, _ = parse_submission(Operation.CHARACTER, body={"prompt": "not a character field", "name": "Mona"})

    assert (submission.operation, submission.invalid.code, submission.prompt) == ("character", "unknown_parameter", "")
