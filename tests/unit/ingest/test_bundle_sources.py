"""What of a source's location leaves the machine in a bundle: never a credential."""

from __future__ import annotations

import pytest

from ingest.bundles.sources import without_credentials


@pytest.mark.parametrize(
    ("location", "exported"),
    [
        ("https://ghp_token@github.com/org/handbook.git", "https://github.com/org/handbook.git"),  # token as user
        ("https://alice:s3cret@git.example.com/handbook.git", "https://git.example.com/handbook.git"),
        ("http://bob:pw@minio.internal:9000", "http://minio.internal:9000"),  # an s3 endpoint_url
        ("ssh://git@git.example.com:2222/handbook.git", "ssh://git@git.example.com:2222/handbook.git"),
        ("ssh://git:pw@git.example.com/handbook.git", "ssh://git@git.example.com/handbook.git"),
        ("git@github.com:org/handbook.git", "git@github.com:org/handbook.git"),  # scp-like: a user, no secret
        ("https://docs.example.org/handbook/", "https://docs.example.org/handbook/"),
        ("/srv/share/policies", "/srv/share/policies"),
        ("s3://bucket/hr", "s3://bucket/hr"),
    ],
)
def test_a_location_travels_without_its_user_and_password_but_keeps_an_ssh_user(location: str, exported: str) -> None:
    assert without_credentials(location) == exported
