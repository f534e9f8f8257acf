"""The demo's bulk publication path writes exactly what the OCDS merge routine and the schema expect."""

import orjson
from sqlalchemy import select

from bos.ocds.compile import compile_release
from bos.ocds.models import Record, Release
from bos.ocds.publish import schema_source
from bos.ocds.validate import validate_release


def test_snapshot_compile_equals_ocdsmerge_on_every_demo_process(db_session, seeded):
    source = schema_source()
    records = db_session.scalars(select(Record)).all()
    assert len(records) == seeded["total"]
    for record in records:
        stored = db_session.scalars(select(Release.json).where(Release.ocid == record.ocid).order_by(Release.id)).all()
        releases = [orjson.loads(body) for body in stored]
        assert orjson.loads(record.compiled) == compile_release(releases, source), record.ocid
        assert record.release_count == len(releases)


def test_every_demo_release_validates(db_session, seeded):
    source = schema_source()
    for body in db_session.scalars(select(Release.json)):
        release = orjson.loads(body)
        assert validate_release(release, source) == [], release["id"]


def test_release_history_follows_the_lifecycle(db_session, seeded):
    completed = db_session.scalars(select(Record).where(Record.release_count >= 6)).first()
    tags = [
        orjson.loads(body)["tag"]
        for body in db_session.scalars(
            select(Release.json).where(Release.ocid == completed.ocid).order_by(Release.date, Release.id)
        )
    ]
    flat = [tag for group in tags for tag in group]
    assert flat[0] == "planning"
    assert flat.index("tender") < flat.index("award") < flat.index("contract")
