"""The persona settings page: name, tone, traits and custom instructions, and the portrait."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.models import Profile
from accounts.services import persona_update
from memory.models import Portrait

pytestmark = pytest.mark.django_db

URL = reverse("accounts:settings")
VALID = {
    "assistant_name": "  Nova  ",
    "tone": "playful",
    "traits": "warm, concise\n\ncurious ,  Warm",
    "instructions": "Call me Captain.\r\nAnswer in French.",
}


@pytest.fixture
def ada(django_user_model):
    user = django_user_model.objects.create_user(username="ada", email="ada@example.test")
    Profile.objects.create(user=user)
    return user


@pytest.fixture
def eve(django_user_model):
    user = django_user_model.objects.create_user(username="eve", email="eve@example.test")
    Profile.objects.create(user=user, assistant_name="Echo", traits=["calm"], tone="gentle")
    return user


def persona_of(user) -> tuple:
    profile = Profile.objects.get(user=user)
    return profile.assistant_name, profile.tone, profile.traits, profile.instructions


def test_anonymous_people_are_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url == reverse("accounts:signin") + "?next=" + URL
    assert client.post(URL, VALID).status_code == 302


def test_the_page_shows_the_current_persona_and_is_in_the_nav(client, eve):
    client.force_login(eve)
    page = client.get(URL).content.decode()
    assert 'name="assistant_name" value="Echo"' in page
    assert 'value="gentle"' in page
    assert ">\ncalm</textarea>" in page
    assert f'href="{URL}"' in page  # the nav link
    assert "No portrait yet" in page
    assert 'name="viewport"' in page


def test_without_a_profile_the_page_offers_the_default_name(client, django_user_model):
    new = django_user_model.objects.create_user(username="new", email="new@example.test")
    client.force_login(new)
    assert 'name="assistant_name" value="PIPO"' in client.get(URL).content.decode()


def test_saving_stores_the_persona_and_says_so(client, ada, eve):
    client.force_login(ada)
    response = client.post(URL, VALID, follow=True)
    assert response.redirect_chain == [(URL, 302)]
    assert "Your assistant&#x27;s persona is saved." in response.content.decode()
    assert persona_of(ada) == (
        "Nova",
        "playful",
        ["warm", "concise", "curious"],
        "Call me Captain.\nAnswer in French.",
    )
    assert persona_of(eve) == ("Echo", "gentle", ["calm"], "")


def test_saving_with_htmx_redirects_the_client(client, ada):
    client.force_login(ada)
    response = client.post(URL, VALID, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"] == URL
    assert persona_of(ada)[0] == "Nova"


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("assistant_name", "   ", "Give your assistant a name."),
        ("assistant_name", "N" * 61, "at most 60 characters"),
        ("tone", "t" * 61, "at most 60 characters"),
        ("traits", "warm, " + "x" * 41, "each trait may have at most 40 characters"),
        (
            "traits",
            ", ".join(f"trait{n}" for n in range(13)),
            "That is 13 traits; the limit is 12.",
        ),
        ("traits", "x, " * 300, "at most 504 characters"),
        (
            "instructions",
            "i" * 2001,
            "The instructions are 2,001 characters long; the limit is 2,000.",
        ),
    ],
)
def test_each_invalid_input_is_refused_inline_and_nothing_is_saved(
    client, ada, field, value, error
):
    client.force_login(ada)
    before = persona_of(ada)
    response = client.post(URL, {**VALID, field: value})
    assert response.status_code == 422
    page = response.content.decode()
    assert error in page
    assert page.count('class="field invalid"') == 1
    assert f'id="id_{field}"' in page.split('class="field invalid"')[1].split("</div>")[0]
    assert persona_of(ada) == before


def test_an_invalid_htmx_post_answers_only_the_form(client, ada):
    client.force_login(ada)
    response = client.post(URL, {**VALID, "assistant_name": ""}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    page = response.content.decode().strip()
    assert page.startswith("<form") and page.endswith("</form>")
    assert "Give your assistant a name." in page


def test_crlf_newlines_count_once_towards_the_instructions_limit(client, ada):
    client.force_login(ada)
    text = "a\r\n" * 999 + "ab"  # 2,000 characters once each CRLF is one newline
    assert client.post(URL, {**VALID, "instructions": text}).status_code == 302
    assert len(persona_of(ada)[3]) == 2000


def test_the_portrait_is_shown_read_only_and_escaped(client, ada):
    Portrait.objects.create(user=ada, text="Ada <b>loves</b> tea.", model="mistral", memory_count=7)
    client.force_login(ada)
    page = client.get(URL).content.decode()
    assert "Ada &lt;b&gt;loves&lt;/b&gt; tea." in page
    assert "by mistral" in page and "7 memories" in page
    assert 'name="portrait"' not in page


def test_the_service_refuses_bad_input_by_field_and_saves_nothing(ada):
    with pytest.raises(ValidationError) as refused:
        persona_update(
            user=ada,
            assistant_name="",
            tone="t" * 61,
            traits=["ok"] * 1 + [f"t{n}" for n in range(12)],
            instructions="",
        )
    assert set(refused.value.message_dict) == {"assistant_name", "tone", "traits"}
    assert persona_of(ada) == ("PIPO", "", [], "")


def test_the_service_creates_a_missing_profile(django_user_model):
    new = django_user_model.objects.create_user(username="new", email="new@example.test")
    profile = persona_update(
        user=new, assistant_name="Nova", tone="", traits=[" a  b ", ""], instructions=""
    )
    assert profile.pk and persona_of(new) == ("Nova", "", ["a b"], "")
