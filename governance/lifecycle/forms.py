from django import forms

from governance.lifecycle.models import Webhook


class _SecretURLInput(forms.URLInput):
    """A URL input that, when told to, renders empty: a Slack or Teams URL is a secret, never shown back."""

    hide_value = False

    def format_value(self, value):
        return None if self.hide_value else super().format_value(value)


class WebhookForm(forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=Webhook.Kind.choices, initial=Webhook.Kind.SIGNED, required=False)
    url = forms.URLField(
        label="Endpoint URL",
        max_length=500,
        assume_scheme="https",
        widget=_SecretURLInput,
        help_text=(
            "Signed JSON: your endpoint, which we POST signed events to. Slack: the incoming webhook's URL. "
            "Teams: the URL of a Workflows “When a Teams webhook request is received” trigger. A Slack or Teams "
            "URL is a secret: it is stored encrypted and shown only masked."
        ),
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
    # One per form shown: the same form sent again adds no second webhook (governance.infra.sent_forms).
    form_token = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["url"].widget.hide_value = self.data.get("kind") in Webhook.CHAT_KINDS

    def clean_kind(self) -> str:
        return self.cleaned_data["kind"] or Webhook.Kind.SIGNED  # a form sent without one: the signed kind
