import gzip

import pytest

from pipeline import sources


def _write(path, lines, header=True):
    body = ("h1,h2\n" if header else "") + "".join(f"{index},{index}\n" for index in range(lines))
    path.write_text(body)
    return str(path)


@pytest.mark.parametrize("chunk_bytes", [1, 7, 50, 10_000])
def test_chunks_cover_every_line_once_with_line_numbers(tmp_path, chunk_bytes):
    path = _write(tmp_path / "log.csv", 200)
    chunks = sources.plan_chunks(path, 0, has_header=True, chunk_bytes=chunk_bytes)
    seen = []
    for chunk in chunks:
        for first_line, block in sources.iter_blocks(chunk, block_bytes=13):
            for offset, line in enumerate(block.decode().splitlines()):
                assert int(line.split(",")[0]) + 2 == first_line + offset
                seen.append(int(line.split(",")[0]))
    assert seen == list(range(200))


def test_gzip_is_one_streamed_chunk(tmp_path):
    path = tmp_path / "log.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("h\n" + "".join(f"{index}\n" for index in range(1000)))
    chunks = sources.plan_chunks(str(path), 3, has_header=True)
    assert len(chunks) == 1 and chunks[0].file_index == 3
    blocks = list(sources.iter_blocks(chunks[0], block_bytes=100))
    assert blocks[0][0] == 2
    assert b"".join(block for _, block in blocks).decode().split() == [str(i) for i in range(1000)]


def test_last_line_without_newline(tmp_path):
    path = tmp_path / "log.txt"
    path.write_bytes(b"a\nb\nc")
    chunks = sources.plan_chunks(str(path), 0, has_header=False, chunk_bytes=2)
    blocks = [block for chunk in chunks for _, block in sources.iter_blocks(chunk)]
    assert b"".join(blocks) == b"a\nb\nc"


def test_match_inputs_folder_and_missing(tmp_path):
    _write(tmp_path / "b.csv", 1)
    _write(tmp_path / "a.csv", 1)
    (tmp_path / "_SUCCESS").write_text("")
    assert [p.rsplit("/", 1)[-1] for p in sources.match_inputs(str(tmp_path))] == ["a.csv", "b.csv"]
    with pytest.raises(FileNotFoundError, match="Received: input="):
        sources.match_inputs(str(tmp_path / "missing.csv"))


def test_chunk_bytes_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="Received: chunk_bytes=0"):
        sources.plan_chunks(_write(tmp_path / "x.csv", 1), 0, True, chunk_bytes=0)
