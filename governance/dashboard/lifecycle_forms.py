from django import forms


class WebhookForm(forms.Form):
    url = forms.URLField(
        label="Endpoint URL", max_length=500, assume_scheme="https", help_text="We POST signed JSON events here."
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
