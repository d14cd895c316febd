"""localcloud.images: an image function's task root rebuilt from its Dockerfile's COPYs."""

from __future__ import annotations

from pathlib import Path

from localcloud.images import task_root_sources


def _context(tmp_path: Path) -> Path:
    for folder in ("layers/common/common", "functions/app/fn", "assets"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "functions/app/fn/app.py").write_text("")
    (tmp_path / "single.py").write_text("")
    return tmp_path


def test_folders_copied_to_the_task_root_last_first(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    dockerfile = ctx / "Dockerfile"
    dockerfile.write_text(
        "FROM public.ecr.aws/lambda/python:3.11\n"
        "# COPY commented/ ${LAMBDA_TASK_ROOT}/\n"
        "COPY layers/common/requirements.txt /tmp/req.txt\n"
        "RUN pip install -r /tmp/req.txt\n"
        "COPY layers/common/ ${LAMBDA_TASK_ROOT}/\n"
        "COPY --chown=1000:1000 assets \\\n"
        "     functions/app/fn/ $LAMBDA_TASK_ROOT\n"
        "COPY --from=builder /opt/x ${LAMBDA_TASK_ROOT}/\n"
        'COPY ["single.py", "/var/task/"]\n'
        'CMD ["app.handler"]\n'
    )
    assert task_root_sources(ctx, dockerfile) == [
        ctx.resolve(),  # single.py: the folder that holds it
        (ctx / "functions/app/fn").resolve(),
        (ctx / "assets").resolve(),
        (ctx / "layers/common").resolve(),
    ]


def test_a_dockerfile_without_task_root_copies_gives_nothing(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM x\nCOPY app.py /srv/\nADD data /opt/data\n")
    assert task_root_sources(tmp_path, dockerfile) == []
