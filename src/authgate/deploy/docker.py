"""A Dockerfile and a Compose file: authgate (non-root, health-checked) with PostgreSQL 15."""

from __future__ import annotations

import re

from authgate.deploy.templating import DeployError, check_port, render

# Pinned: a rebuild must not silently move to another Python or Debian release.
BASE_IMAGE = "python:3.11.11-slim-bookworm"
POSTGRES_IMAGE = "postgres:15-bookworm"
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/-]*:[A-Za-z0-9._-]+$")


def render_dockerfile(*, base_image: str = BASE_IMAGE, port: int = 8000, uid: int = 10001) -> str:
    """Builds from the authgate source tree (``pyproject.toml``, ``README.md`` and ``src/``)."""
    if not _IMAGE.match(base_image):
        raise DeployError(f"base image {base_image!r} must be NAME:TAG")
    if not 1000 <= uid < 2**31:
        raise DeployError(f"uid {uid} must be an unprivileged id (>= 1000)")
    return render("Dockerfile.j2", base_image=base_image, port=check_port(port, "port"), uid=uid)


def render_compose(*, port: int = 8000, postgres_image: str = POSTGRES_IMAGE) -> str:
    """authgate + PostgreSQL; secrets come from files under ``./secrets/``."""
    if not _IMAGE.match(postgres_image):
        raise DeployError(f"postgres image {postgres_image!r} must be NAME:TAG")
    return render("compose.yaml.j2", port=check_port(port, "port"), postgres_image=postgres_image)


def docker_files(*, port: int = 8000) -> dict[str, str]:
    """File name -> content, for writing into the source tree (or anywhere)."""
    return {"Dockerfile": render_dockerfile(port=port), "compose.yaml": render_compose(port=port)}


__all__ = ["BASE_IMAGE", "POSTGRES_IMAGE", "docker_files", "render_compose", "render_dockerfile"]
