import re

from django import forms

from accounts.services import (
    ASSISTANT_NAME_MAX_LENGTH,
    INSTRUCTIONS_MAX_LENGTH,
    TONE_MAX_LENGTH,
    TRAIT_MAX_LENGTH,
    TRAITS_MAX,
)


class SignInForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class SignUpForm(SignInForm):
    password = forms.CharField(
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not only digits, not a common password.",
    )


TRAITS_SEPARATORS = re.compile(r"[,\n]")


class PersonaForm(forms.Form):
    assistant_name = forms.CharField(
        label="Assistant's name",
        max_length=ASSISTANT_NAME_MAX_LENGTH,
        error_messages={"required": "Give your assistant a name."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    tone = forms.CharField(
        max_length=TONE_MAX_LENGTH,
        required=False,
        help_text="How it sounds, e.g. friendly, formal, playful.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    traits = forms.CharField(
        required=False,
        max_length=TRAITS_MAX * (TRAIT_MAX_LENGTH + 2),
        help_text=(
            f"Separated by commas or new lines, e.g. warm, concise, curious. "
            f"At most {TRAITS_MAX}, each up to {TRAIT_MAX_LENGTH} characters."
        ),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    instructions = forms.CharField(
        label="Custom instructions",
        required=False,
        help_text=(
            "Your standing instructions, given to the assistant in every chat "
            f"(up to {INSTRUCTIONS_MAX_LENGTH:,} characters)."
        ),
        # The length is checked by persona_update, after browsers' CRLF become one newline.
        widget=forms.Textarea(attrs={"rows": 6, "maxlength": INSTRUCTIONS_MAX_LENGTH}),
    )

    def clean_traits(self) -> list[str]:
        return [
            t.strip() for t in TRAITS_SEPARATORS.split(self.cleaned_data["traits"]) if t.strip()
        ]
