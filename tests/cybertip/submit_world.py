"""What the CyberTipline sending tests share: benign evidence scanned into a store, draft rows
made directly (NCMEC's own sample report and fileDetails), and the stand-in served over real
HTTP on loopback."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from kaitiaki.cybertip.client import CyberTiplineClient
from kaitiaki.cybertip.standin import StandIn, serve_in_thread
from kaitiaki.store import Store
from kaitiaki.store.models import CyberTipReport, CyberTipReportFile, FileInstance

USER, PASSWORD = "esp-test-user", "Not-A-Real-Password-7f3a9c"

# NCMEC's sample report (samples/00-report.xml of its API documentation).
REPORT = """<?xml version="1.0" encoding="UTF-8"?>
<report xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
        xsi:noNamespaceSchemaLocation="https://report.cybertip.org/ispws/xsd">
    <incidentSummary>
        <incidentType>Child Pornography (possession, manufacture, and distribution)</incidentType>
        <reportAnnotations>
            <sextortion />
            <csamSolicitation />
            <minorToMinorInteraction />
            <spam />
            <sadisticOnlineExploitation />
        </reportAnnotations>
        <incidentDateTime>2012-10-15T08:00:00-07:00</incidentDateTime>
    </incidentSummary>
    <internetDetails>
        <webPageIncident>
            <url>http://badsite.com/baduri.html</url>
        </webPageIncident>
    </internetDetails>
    <reporter>
        <reportingPerson>
            <firstName>John</firstName>
            <lastName>Smith</lastName>
            <email>jsmith@example.com</email>
        </reportingPerson>
    </reporter>
</report>
"""


def details(name: str) -> str:
    """NCMEC's sample fileDetails (samples/05-fileDetails.xml), ids left to fill in."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<fileDetails xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
             xsi:noNamespaceSchemaLocation="https://report.cybertip.org/ispws/xsd">
    <reportId>0</reportId>
    <fileId>pending</fileId>
    <originalFileName>{name}</originalFileName>
    <ipCaptureEvent>
        <ipAddress>63.116.246.17</ipAddress>
        <eventName>Upload</eventName>
        <dateTime>2011-10-31T12:00:00Z</dateTime>
    </ipCaptureEvent>
    <additionalInfo>File was originally posted with 6 others</additionalInfo>
</fileDetails>
"""


@dataclass(frozen=True)
class Evidence:
    instance_id: int
    path: str
    sha256: str
    md5: str


def _jpeg(pixels: object) -> bytes:
    import numpy as np
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.asarray(pixels)).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()


def scan_evidence(store: Store, root: Path) -> list[Evidence]:
    """Benign photographs (scikit-image's samples), one of them inside a zip, scanned as
    evidence item "ev" with kaitiaki's own scanner."""
    from skimage import data

    from kaitiaki.scan.runner import run_scan

    folder = root / "evidence"
    folder.mkdir()
    (folder / "coffee.jpg").write_bytes(_jpeg(data.coffee()))
    (folder / "astronaut.jpg").write_bytes(_jpeg(data.astronaut()))
    with zipfile.ZipFile(folder / "album.zip", "w") as archive:
        archive.writestr("inner/chelsea.jpg", _jpeg(data.chelsea()))
    run_scan(store, [folder], "ev", workers=1, actor="test:setup")
    found: list[Evidence] = []
    with store.session() as session:
        for instance in session.scalars(
            select(FileInstance).where(FileInstance.path.like("%.jpg")).order_by(FileInstance.path)
        ):
            data_ = _read(instance.path)
            assert instance.sha256 == hashlib.sha256(data_).hexdigest()
            found.append(
                Evidence(
                    instance.id,
                    instance.path,
                    instance.sha256,
                    hashlib.md5(data_, usedforsecurity=False).hexdigest(),
                )
            )
    assert len(found) == 3 and any("!/" in e.path for e in found), found
    return found


def _read(path: str) -> bytes:
    outer, _, member = path.partition("!/")
    if not member:
        return Path(outer).read_bytes()
    with zipfile.ZipFile(outer) as archive:
        return archive.read(member)


def draft(
    store: Store,
    evidence: list[Evidence],
    *,
    include_files: bool = True,
    without_instance: int = 0,
    subject: str = "S-1",
) -> int:
    """A draft row as ``kaitiaki.cybertip.drafts`` leaves one; ``without_instance`` more files
    with details but nothing to upload (they are not sent)."""
    with store.session() as session:
        row = CyberTipReport(
            subject_id=subject,
            state="draft",
            document=REPORT,
            document_sha256=hashlib.sha256(REPORT.encode()).hexdigest(),
            include_files=include_files,
            environment="test",
            created_by="test:setup",
        )
        session.add(row)
        session.flush()
        for i, item in enumerate(evidence):
            name = item.path.rsplit("/", 1)[-1]
            session.add(
                CyberTipReportFile(
                    report_id=row.id,
                    object_id=f"obj-{i}",
                    sha256=item.sha256,
                    instance_id=item.instance_id,
                    details=details(name),
                    state="pending",
                )
            )
        for i in range(without_instance):
            session.add(
                CyberTipReportFile(
                    report_id=row.id,
                    object_id=f"held-elsewhere-{i}",
                    details=details(f"elsewhere-{i}.jpg"),
                    state="pending",
                )
            )
        return int(row.id)


@contextmanager
def served(standin: StandIn | None = None) -> Iterator[tuple[StandIn, str]]:
    """A stand-in on a real loopback HTTP server: (the stand-in, its base URL)."""
    standin = standin or StandIn(USER, PASSWORD)
    with serve_in_thread(standin.app) as url:
        yield standin, url


def client(url: str, password: str = PASSWORD) -> CyberTiplineClient:
    return CyberTiplineClient(url, USER, password, timeout=30)
