"""Questions over HTTP: a listener's list, a new listener's, tracks like a track, why a track
reaches a listener, and the status and reason of each question that cannot be answered."""

import pytest

from musicrec_core.answers import MAX_K
from musicrec_core.data import schema as s
from musicrec_core.serving import read_only_query
from musicrec_core.serving.layout import SERVING_FILE
from tests.api.conftest import warm_listener

pytestmark = pytest.mark.integration


def test_a_listeners_list_is_the_published_one(client, answers, published_data_dir):
    user = warm_listener(answers)
    response = client.get(f"/users/{user}/recommendations", params={"k": 5})
    assert response.status_code == 200
    body = response.json()
    published = read_only_query(
        published_data_dir / SERVING_FILE,
        f"SELECT {s.TRACK_ID} FROM recommendations WHERE {s.USER_ID} = '{user}' ORDER BY {s.RANK}",
    )[s.TRACK_ID].tolist()
    assert [item[s.TRACK_ID] for item in body["items"]] == published[:5]
    assert [item[s.RANK] for item in body["items"]] == [1, 2, 3, 4, 5]
    assert body[s.USER_ID] == user and body["audience"] == "warm"
    assert all(item["reason"] for item in body["items"])


def test_a_listeners_new_tracks(client, answers):
    user = warm_listener(answers)
    response = client.get(f"/users/{user}/new-tracks", params={"k": 4})
    assert response.status_code == 200
    body = response.json()
    assert body[s.USER_ID] == user and body["audience"] == "cold_track" and body["k"] == 4
    assert [item[s.TRACK_ID] for item in body["items"]] == (
        answers.new_tracks(user, 4).items[s.TRACK_ID].tolist()
    )
    assert len(body["items"]) == 4
    assert not {item[s.TRACK_ID] for item in body["items"]} & set(
        answers.data.interactions[s.TRACK_ID]
    )


def test_a_diversity_ranks_the_list_now(client, answers):
    user = warm_listener(answers)
    response = client.get(f"/users/{user}/recommendations", params={"k": 7, "diversity": 1.0})
    assert response.status_code == 200
    assert response.json()["diversity"] == 1.0
    assert len(response.json()["items"]) == 7


def test_tracks_like_a_track(client, answers):
    track = str(answers.track_index[0])
    response = client.get(f"/tracks/{track}/similar", params={"k": 4})
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 4
    assert track not in {item[s.TRACK_ID] for item in items}


def test_why_a_listed_track_reaches_its_listener(client, answers):
    user = warm_listener(answers)
    listed = client.get(f"/users/{user}/recommendations", params={"k": 1}).json()["items"][0]
    response = client.get(f"/users/{user}/explanations/{listed[s.TRACK_ID]}")
    assert response.status_code == 200
    body = response.json()
    assert body[s.RANK] == 1 and body[s.PLAYS] == 0
    assert body["reasons"] and all(r["kind"] and r["reason"] for r in body["reasons"])


def test_a_new_listener_with_nothing_known_gets_the_new_users_model(client):
    response = client.post("/recommendations", json={})
    assert response.status_code == 200
    body = response.json()
    assert body["audience"] == "cold_user" and body[s.GENDER] == s.GENDER_UNKNOWN
    assert len(body["items"]) == 10


def test_a_new_listener_is_answered_with_their_gender_code_and_plays(client, answers):
    played = [str(t) for t in answers.track_index[:2]]
    response = client.post(
        "/recommendations", json={"age": 31, "gender": "female", "played": played, "k": 5}
    )
    assert response.status_code == 200
    body = response.json()
    assert body[s.GENDER] == "F" and body["played"] == played and body[s.AGE] == 31
    assert body["audience"] == "cold_user_given"
    assert not set(played) & {item[s.TRACK_ID] for item in body["items"]}


def test_three_plays_of_one_genre_place_a_new_listener_in_that_genre(client, answers):
    """The second most played genre (not the one that fills lists anyway), its three most
    played tracks: at least half of the top 10 is that genre, where a list drawn from the
    played catalogue would hold a quarter at most."""
    played_tracks = answers.tracks[answers.evidence.listeners > 0]
    genre = played_tracks[s.GENRE].value_counts().index[1]
    assert (played_tracks[s.GENRE] == genre).sum() >= 10
    assert (played_tracks[s.GENRE] == genre).mean() < 1 / 4
    of_genre = answers.evidence.listeners * (answers.tracks[s.GENRE] == genre).to_numpy()
    played = [str(answers.track_index[i]) for i in of_genre.argsort()[::-1][:3]]
    response = client.post("/recommendations", json={"played": played, "k": 10})
    assert response.status_code == 200
    genres = [item[s.GENRE] for item in response.json()["items"]]
    assert genres.count(genre) >= 5, (genre, genres)


@pytest.mark.parametrize(
    "path",
    [
        "/users/nobody/recommendations",
        "/users/nobody/new-tracks",
        "/users/nobody/explanations/{track}",
        "/users/{user}/explanations/no-such-track",
        "/tracks/no-such-track/similar",
    ],
)
def test_an_unknown_id_in_the_path_is_404_naming_it(client, answers, path):
    url = path.format(user=warm_listener(answers), track=answers.track_index[0])
    response = client.get(url)
    assert response.status_code == 404
    assert "unknown" in response.json()["detail"]
    assert ("nobody" in url) == ("nobody" in response.json()["detail"])


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"k": 0}, "k"),
        ({"k": MAX_K + 1}, "k"),
        ({"k": "many"}, "k"),
        ({"diversity": -0.1}, "diversity"),
        ({"diversity": 1.5}, "diversity"),
    ],
)
def test_k_and_diversity_out_of_range_are_422(client, answers, params, field):
    user = warm_listener(answers)
    urls = (
        f"/users/{user}/recommendations",
        f"/users/{user}/new-tracks",
        f"/tracks/{answers.track_index[0]}/similar",
    )
    for url in urls:
        if field == "diversity" and not url.endswith("recommendations"):
            continue
        response = client.get(url, params=params)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", field]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"age": 4}, "age"),
        ({"age": 111}, "age"),
        ({"age": "old"}, "age"),
        ({"gender": "robot"}, "gender"),
        ({"k": 0}, "k"),
        ({"k": MAX_K + 1}, "k"),
        ({"diversity": 2}, "diversity"),
        ({"played": [""]}, "played"),
    ],
)
def test_a_bad_new_listener_is_422_naming_the_field(client, body, field):
    response = client.post("/recommendations", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][:2] == ["body", field]


def test_an_unknown_played_track_is_422_naming_it(client, answers):
    played = [str(answers.track_index[0]), "no-such-track"]
    response = client.post("/recommendations", json={"played": played})
    assert response.status_code == 422
    assert "'no-such-track'" in response.json()["detail"]
    assert str(answers.track_index[0]) not in response.json()["detail"]


def test_the_openapi_page_documents_every_endpoint_and_its_limits(client):
    page = client.get("/docs")
    assert page.status_code == 200 and "/docs-assets/swagger-ui-bundle.js" in page.text
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200  # no CDN needed
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "musicrec" and spec["info"]["version"]
    assert set(spec["paths"]) == {
        "/users/{user_id}/recommendations",
        "/users/{user_id}/new-tracks",
        "/recommendations",
        "/tracks/{track_id}/similar",
        "/users/{user_id}/explanations/{track_id}",
        "/feedback",
        "/health",
    }
    new_listener = spec["components"]["schemas"]["NewListener"]["properties"]
    assert new_listener["age"]["anyOf"][0]["minimum"] == s.AGE_RANGE[0]
    assert new_listener["k"]["maximum"] == MAX_K
    assert "description" in new_listener["played"]
