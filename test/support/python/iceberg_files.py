"""Every file of an Iceberg table, read for what it holds: which files under the table's location
contain a value (a pseudonym, or its first 16 characters as a manifest's column bound keeps it).

A byte search of the files as stored would miss values: Iceberg compresses its Avro files (manifest
lists ``snap-*.avro``, manifests ``*-m<n>.avro``) with deflate by default, and Parquet pages with
zstd. So each kind is read as what it is:

- Avro: the container's header and every block, decompressed (codecs ``null`` and ``deflate``; any
  other fails rather than passing unread). Avro stores strings and bytes (a bound is the value's
  UTF-8) as they are, so the search finds them;
- Parquet (data and delete files): the raw bytes (the footer's column statistics are not
  compressed) and every row as Spark reads it;
- anything else (metadata JSON, ``version-hint.text``): the raw bytes.

Hidden files (Hadoop's ``.crc`` checksums, which a local catalog writes beside each file and S3
never holds) are skipped.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

AVRO_MAGIC = b"Obj\x01"


def _long(buf: io.BytesIO) -> int:
    """An Avro long: a zig-zag varint."""
    shift = value = 0
    while True:
        byte = buf.read(1)
        if not byte:
            raise ValueError("truncated Avro long")
        value |= (byte[0] & 0x7F) << shift
        shift += 7
        if not byte[0] & 0x80:
            return (value >> 1) ^ -(value & 1)


def avro_content(path: Path) -> bytes:
    """The header and every block of an Avro container file, decompressed."""
    data = path.read_bytes()
    buf = io.BytesIO(data)
    if buf.read(4) != AVRO_MAGIC:
        raise ValueError(f"{path} is not an Avro container file")
    meta: dict[str, bytes] = {}
    while (count := _long(buf)) != 0:
        if count < 0:  # a negative count is followed by the block's size in bytes
            _long(buf)
            count = -count
        for _ in range(count):
            key = buf.read(_long(buf)).decode()
            meta[key] = buf.read(_long(buf))
    sync = buf.read(16)
    codec = meta.get("avro.codec", b"null").decode()
    if codec not in ("null", "deflate"):
        raise ValueError(f"{path}: Avro codec {codec} is not read here")
    parts = [data[: buf.tell()]]
    while buf.tell() < len(data):
        _long(buf)  # objects in the block
        block = buf.read(_long(buf))
        if buf.read(16) != sync:
            raise ValueError(f"{path}: Avro block without its sync marker")
        parts.append(zlib.decompress(block, -15) if codec == "deflate" else block)
    return b"".join(parts)


def file_content(spark, path: Path) -> bytes:
    """What a file holds, readable by a byte search (see the module's docstring)."""
    if path.suffix == ".avro":
        return avro_content(path)
    if path.suffix == ".parquet":
        frame = spark.read.parquet(str(path))
        rows = frame.selectExpr(*[f"CAST(`{c}` AS STRING)" for c in frame.columns]).collect()
        return path.read_bytes() + "\n".join("\t".join(str(v) for v in row) for row in rows).encode()
    return path.read_bytes()


def table_location(spark, table: str) -> Path:
    location = spark.sql(f"DESCRIBE TABLE EXTENDED {table}").where("col_name = 'Location'").collect()[0][1]
    return Path(location.replace("file:", ""))


def table_files(spark, table: str) -> list[Path]:
    """Every file under the table's location (data, delete files and metadata), hidden files aside."""
    root = table_location(spark, table)
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def files_holding(spark, table: str, needle: str) -> set[str]:
    """The files of the table (paths relative to its location) that hold `needle`."""
    root = table_location(spark, table)
    return {str(p.relative_to(root)) for p in table_files(spark, table) if needle.encode() in file_content(spark, p)}
