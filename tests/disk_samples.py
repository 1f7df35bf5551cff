"""Small disk images built with Debian's own tools (dosfstools, mtools, e2fsprogs, fdisk,
ntfs-3g), holding benign photos; one file of each is deleted the way the file system does it.

Plain helpers, importable by bare name from any test folder (``tests/`` is on the path). Each
builder checks its tools first, so a missing tool skips locally and fails under CI.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

from nothing_skips import require

# Even seconds: FAT keeps modification times to two seconds.
MTIME = 1_700_000_000
SECTOR = 512
# mtools refuses images that are not on a floppy geometry unless told otherwise.
_MTOOLS_ENV = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "TZ": "UTC"}


def needs(*tools: str) -> None:
    """Skip when a tool is missing, fail under CI=true (``nothing_skips.require``)."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    require(not missing, f"not installed: {', '.join(missing)} (Debian tools for disk images)")


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, f"{args}: {done.stderr or done.stdout}"
    return done.stdout


def _stage(root: Path, files: dict[str, bytes]) -> Path:
    """The files in a folder, with a fixed modification time so times can be asserted."""
    for name, payload in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)
        os.utime(target, (MTIME, MTIME))
    return root


def fat_image(
    path: Path, files: dict[str, bytes], deleted: tuple[str, ...] = (), kib: int = 4096
) -> Path:
    """A FAT file system filling ``path``; ``deleted`` removed with ``mdel`` afterwards.

    FAT keeps a deleted file's first cluster in its entry and the data stays in place, so a
    deleted file written in one piece is recoverable. mtools runs with TZ=UTC: FAT keeps local
    wall-clock times, so the wall clock written is the UTC time.
    """
    needs("mkfs.fat", "mcopy", "mmd", "mdel")
    _run("mkfs.fat", "-C", str(path), str(kib))
    staged = _stage(path.parent / f"{path.name}.src", files)
    folders = sorted({str(Path(name).parent) for name in files} - {"."})
    for folder in folders:
        _run("mmd", "-D", "s", "-i", str(path), f"::/{folder}", env=_MTOOLS_ENV)
    for name in files:
        _run("mcopy", "-m", "-i", str(path), str(staged / name), f"::/{name}", env=_MTOOLS_ENV)
    for name in deleted:
        _run("mdel", "-i", str(path), f"::/{name}", env=_MTOOLS_ENV)
    return path


def ext4_image(
    path: Path,
    files: dict[str, bytes],
    deleted: tuple[str, ...] = (),
    *,
    wipe_extents: bool = True,
    size: str = "8M",
) -> Path:
    """An ext4 file system made from a folder with ``mke2fs -d``; ``deleted`` removed by debugfs.

    ``wipe_extents`` then clears the deleted inode's extent entries as the Linux kernel does on
    unlink (debugfs's own ``rm`` leaves them), so the content is not recoverable.
    """
    needs("mke2fs", "debugfs")
    staged = _stage(path.parent / f"{path.name}.src", files)
    _run("mke2fs", "-q", "-t", "ext4", "-d", str(staged), "-F", str(path), size)
    for name in deleted:
        inode = inode_of(path, name)
        debugfs(path, f"rm /{name}")
        if wipe_extents:
            # i_block: the extent header keeps its magic (0xF30A) and max, with no entries.
            debugfs(path, f"sif <{inode}> block[0] 0xF30A")
            for word in (2, 3, 4):
                debugfs(path, f"sif <{inode}> block[{word}] 0")
    return path


def inode_of(image: Path, name: str) -> int:
    out = _run("debugfs", "-R", f"stat /{name}", str(image))
    return int(out.split("Inode:")[1].split()[0])


def debugfs(image: Path, command: str) -> None:
    _run("debugfs", "-w", "-R", command, str(image))


def ntfs_image(
    path: Path,
    files: dict[str, bytes],
    deleted: tuple[str, ...] = (),
    mib: int = 8,
    *,
    free_clusters: bool = True,
) -> Path:
    """NTFS made by ``mkntfs``, filled by ``ntfscp`` (no mount needed).

    ntfs-3g has no tool that deletes without mounting, so ``deleted`` files are deleted the way
    NTFS marks it, by hand: the MFT entry's in-use flag is cleared and its clusters freed in
    $Bitmap (the folder index entry and the data runs stay, as they do until reused).
    ``free_clusters=False`` leaves the clusters marked in use, as after another file took them.
    """
    needs("mkntfs", "ntfscp")
    with path.open("wb") as out:
        out.truncate(mib << 20)
    _run("mkntfs", "-q", "-F", "-f", str(path))
    staged = _stage(path.parent / f"{path.name}.src", files)
    for name in files:
        _run("ntfscp", "-q", str(path), str(staged / name), name)
    for name in deleted:
        _clear_in_use(path, name, free_clusters=free_clusters)
    return path


def _clear_in_use(image: Path, name: str, *, free_clusters: bool) -> None:
    import pytsk3

    fs = pytsk3.FS_Info(pytsk3.Img_Info(str(image)))
    file = fs.open(f"/{name}")
    entry = int(file.info.meta.addr)
    if free_clusters:
        _free_clusters(image, fs, file)
    with image.open("r+b") as raw:
        boot = raw.read(SECTOR)
        sector = struct.unpack_from("<H", boot, 0x0B)[0]
        cluster = sector * boot[0x0D]
        mft = struct.unpack_from("<q", boot, 0x30)[0] * cluster
        per_record = struct.unpack_from("<b", boot, 0x40)[0]
        record = per_record * cluster if per_record > 0 else 1 << -per_record
        flags_at = mft + entry * record + 0x16
        raw.seek(flags_at)
        flags = struct.unpack("<H", raw.read(2))[0]
        raw.seek(flags_at)
        raw.write(struct.pack("<H", flags & ~1))


def _free_clusters(image: Path, fs: object, file: object) -> None:
    """Clear the bits of ``file``'s clusters in $Bitmap (MFT entry 6), as NTFS does on delete."""
    import pytsk3

    block = int(fs.info.block_size)  # type: ignore[attr-defined]
    used = [
        (int(run.addr), int(run.len))
        for attribute in file  # type: ignore[attr-defined]
        if int(attribute.info.type) == int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA)
        and int(attribute.info.flags) & int(pytsk3.TSK_FS_ATTR_NONRES)
        for run in attribute
    ]
    bitmap = fs.open_meta(inode=6)  # type: ignore[attr-defined]
    places = [  # where each block of $Bitmap's data lies in the image
        int(run.addr) + i
        for attribute in bitmap
        if int(attribute.info.type) == int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA)
        for run in attribute
        for i in range(int(run.len))
    ]
    with image.open("r+b") as raw:
        for first, count in used:
            for cluster in range(first, first + count):
                byte = cluster // 8
                raw.seek(places[byte // block] * block + byte % block)
                value = raw.read(1)[0]
                raw.seek(-1, os.SEEK_CUR)
                raw.write(bytes([value & ~(1 << (cluster % 8))]))


def partitioned_image(path: Path, label: str, parts: list[tuple[Path, str]]) -> Path:
    """A disk with a partition table (``label``: "dos" or "gpt", written by ``sfdisk``) and each
    file-system image of ``parts`` copied into its partition (type: an MBR id or a GPT GUID)."""
    needs("sfdisk")
    start = 2048
    layout = [f"label: {label}"]
    offsets: list[int] = []
    for image, kind in parts:
        sectors = image.stat().st_size // SECTOR
        layout.append(f"start={start}, size={sectors}, type={kind}")
        offsets.append(start)
        start += sectors + 2048
    with path.open("wb") as out:
        out.truncate((start + 2048) * SECTOR)  # room for GPT's backup table at the end
    done = subprocess.run(
        ["sfdisk", "-q", str(path)], input="\n".join(layout) + "\n", text=True, check=False
    )
    assert done.returncode == 0
    with path.open("r+b") as out:
        for (image, _), offset in zip(parts, offsets, strict=True):
            out.seek(offset * SECTOR)
            out.write(image.read_bytes())
    return path
