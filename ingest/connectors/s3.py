"""The `s3` connector: the objects of a bucket under a prefix (`s3://bucket/prefix`) on AWS S3 or any
S3-compatible store (MinIO, Ceph, R2, ...: the `endpoint_url` option).

The marker is the object's ETag, which a listing gives without reading any object: an object whose bytes
change gets a new ETag, so a resync with no change reads nothing. Credentials are boto3's own chain
(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the `profile` option, the instance's role), never
the source's options: those are shown to every reader of the collection. AWS_ENDPOINT_URL_S3 sets the endpoint
for every source at once. Which objects: those a loader reads, not hidden, not folder markers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ingest.connectors.base import ConnectorContext, Item, SourceUnavailable
from ingest.loaders import is_supported
from rag.errors import InvalidInput

# Reads are retried by botocore itself; a store that does not answer fails the sync within about a minute.
CLIENT_CONFIG = Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})


class S3Connector:
    def __init__(self, location: str, options: dict[str, Any], context: ConnectorContext) -> None:
        if not location.startswith("s3://") or not location.removeprefix("s3://").split("/", 1)[0]:
            raise InvalidInput(f"an s3 source's location is s3://bucket[/prefix], not {location!r}")
        self.bucket, _, prefix = location.removeprefix("s3://").partition("/")
        self.prefix = prefix.lstrip("/")
        if self.prefix and not self.prefix.endswith("/"):
            self.prefix += "/"  # a folder, not every key that starts with these letters
        try:
            session = boto3.session.Session(profile_name=options.get("profile") or None)
            self._client = session.client(
                "s3", endpoint_url=options.get("endpoint_url") or None, region_name=options.get("region") or None,
                config=CLIENT_CONFIG,
            )  # fmt: skip
        except (BotoCoreError, ValueError) as exc:  # an unknown profile, a malformed endpoint
            raise SourceUnavailable(f"no S3 client for {location!r}: {exc}") from exc
        self.cursor: str | None = None

    def list_items(self) -> Iterator[Item]:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        try:
            for page in pages:  # the whole listing is taken before the sync compares: a failure removes nothing
                for entry in page.get("Contents", []):
                    key = str(entry["Key"])[len(self.prefix) :]
                    name = PurePosixPath(key).name
                    if not key or key.endswith("/") or name.startswith(".") or not is_supported(Path(name)):
                        continue
                    yield Item(key, str(entry["ETag"]), int(entry["Size"]), f"s3://{self.bucket}/{entry['Key']}")
        except (BotoCoreError, ClientError) as exc:
            raise SourceUnavailable(f"s3://{self.bucket}/{self.prefix} could not be listed: {exc}") from exc

    def read(self, item: Item) -> bytes:
        try:
            body: bytes = self._client.get_object(Bucket=self.bucket, Key=self.prefix + item.key)["Body"].read()
            return body
        except (BotoCoreError, ClientError) as exc:
            raise SourceUnavailable(f"{item.origin} could not be read: {exc}") from exc
