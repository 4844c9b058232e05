from django import forms


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL", max_length=500, assume_scheme="https", help_text="We POST signed JSON events here."
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
    # One per form shown: the same form sent again adds no second webhook (governance.infra.sent_forms).
    form_token = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)
