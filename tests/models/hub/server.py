"""A stand-in of the Hugging Face hub on 127.0.0.1, speaking the protocol huggingface_hub's
`snapshot_download` speaks, so that the real download code runs in the tests.

What it serves (coverage):
- `GET /api/models/{owner}/{name}[/revision/{rev}]`: `id`, `sha` (the commit) and `siblings`;
- `GET /api/models/{owner}/{name}/tree/{rev}?recursive=true`: every file with its git blob `oid`
  and `size`, and `lfs` (`oid` = sha256, `size`, `pointerSize`) for weights; no pagination;
- `HEAD`/`GET /{owner}/{name}/resolve/{rev}/{path}`: small files answer 200 with `ETag` (the git
  blob id), `X-Repo-Commit` and `Content-Length`; weights (LFS) answer 302 to a second origin (the
  storage, another port) with `X-Linked-Etag` (sha256), `X-Linked-Size`, `X-Repo-Commit`, `Location`;
- the storage origin: `GET /{sha256}` with `Range: bytes=N-` (206, `Content-Range`), and a cut
  (`cut(path, [n, ...])`: the next GETs of that file close the connection after n body bytes);
- errors by `X-Error-Code`: `RepoNotFound` (401, as the hub answers a caller without a token),
  `GatedRepo` (401, unless `Authorization: Bearer <token>` carries `token`), `RevisionNotFound`
  (404), `EntryNotFound` (404 with `X-Repo-Commit`);
- repository ids match case-insensitively, as on the hub; revisions are branches (`main`,
  `float16`, `refs/pr/4`) or a commit sha.
Not served: Xet (no `X-Xet-Hash`, so the client uses plain HTTP), 5xx (the client retries them
with waits), pagination, authentication beyond one token, uploads.
Every request is logged (`requests`): origin, method, path and Range header.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

LFS_SUFFIXES = (".bin", ".safetensors", ".pt", ".msgpack", ".ot")


@dataclass
class Repo:
    id: str
    revisions: dict[str, str] = field(default_factory=dict)  # branch -> commit
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit -> path -> content
    gated: bool = False


@dataclass(frozen=True)
class Request:
    origin: str  # "hub" or "storage"
    method: str
    path: str
    range: str | None


def _git_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _is_lfs(path: str) -> bool:
    return path.endswith(LFS_SUFFIXES)


class HubStandIn:
    """Two HTTP servers on 127.0.0.1 (the hub and its storage) over repositories added at test time."""

    def __init__(self, token: str = "hf_test_token") -> None:
        self.repos: dict[str, Repo] = {}
        self.blobs: dict[str, bytes] = {}  # sha256 -> content
        self.token = token
        self.requests: list[Request] = []
        self.cuts: dict[str, list[int]] = {}  # sha256 -> body bytes sent before each of the next GETs is cut
        self._lock = threading.Lock()
        self._servers = [self._serve("hub"), self._serve("storage")]
        self.url, self.storage_url = (f"http://127.0.0.1:{s.server_address[1]}" for s in self._servers)

    # -- repositories ---------------------------------------------------------------------
    def add(self, repo_id: str, files: dict[str, bytes], revision: str = "main", gated: bool = False) -> str:
        """Commit `files` as `revision` of `repo_id`; returns the commit sha."""
        repo = self.repos.setdefault(repo_id.lower(), Repo(repo_id))
        repo.gated = repo.gated or gated
        digest = hashlib.sha1(repo_id.encode() + revision.encode())
        for path in sorted(files):
            digest.update(path.encode() + b"\0" + hashlib.sha256(files[path]).digest())
            if _is_lfs(path):
                self.blobs[hashlib.sha256(files[path]).hexdigest()] = files[path]
        commit = digest.hexdigest()
        repo.revisions[revision], repo.commits[commit] = commit, dict(files)
        return commit

    def cut(self, repo_id: str, revision: str, path: str, after: list[int]) -> None:
        """The next len(after) downloads of that LFS file close the connection after after[i] body bytes."""
        repo = self.repos[repo_id.lower()]
        content = repo.commits[repo.revisions[revision]][path]
        self.cuts[hashlib.sha256(content).hexdigest()] = list(after)

    def log(self, origin: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if origin in (None, r.origin)]

    def close(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    # -- HTTP -----------------------------------------------------------------------------
    def _serve(self, origin: str) -> http.server.ThreadingHTTPServer:
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_HEAD(self) -> None:
                self._handle()

            def do_GET(self) -> None:
                self._handle()

            def _handle(self) -> None:
                with hub._lock:
                    hub.requests.append(Request(origin, self.command, self.path, self.headers.get("Range")))
                if origin == "hub":
                    hub._hub(self)
                else:
                    hub._storage(self)

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return server

    def _hub(self, handler) -> None:
        parts = [unquote(p) for p in urlsplit(handler.path).path.strip("/").split("/")]
        api = parts[:2] == ["api", "models"]
        repo_parts = parts[2:4] if api else parts[:2]
        repo = self.repos.get("/".join(repo_parts).lower())
        if repo is None:
            return _send(handler, 401, headers={"X-Error-Code": "RepoNotFound",
                                                "X-Error-Message": "Repository not found"})
        if repo.gated and handler.headers.get("Authorization") != f"Bearer {self.token}":
            return _send(handler, 401, headers={"X-Error-Code": "GatedRepo",
                                                "X-Error-Message": "Access to this model is restricted."})
        rest = parts[4:] if api else parts[2:]
        if api and rest[:1] == ["tree"]:
            return self._tree(handler, repo, rest[1])
        if api:  # repository info, at a revision or at main
            revision = rest[1] if rest[:1] == ["revision"] else "main"
            commit = self._commit(handler, repo, revision)
            if commit:
                files = [{"rfilename": p} for p in sorted(repo.commits[commit])]
                _send(handler, 200, json.dumps({"id": repo.id, "sha": commit, "siblings": files}).encode(),
                      {"Content-Type": "application/json"})
            return
        if rest[:1] == ["resolve"] and len(rest) >= 3:
            return self._resolve(handler, repo, rest[1], "/".join(rest[2:]))
        _send(handler, 404)

    def _commit(self, handler, repo: Repo, revision: str) -> str | None:
        commit = revision if revision in repo.commits else repo.revisions.get(revision)
        if commit is None:
            _send(handler, 404, headers={"X-Error-Code": "RevisionNotFound",
                                         "X-Error-Message": f"Invalid rev id: {revision}"})
        return commit

    def _tree(self, handler, repo: Repo, revision: str) -> None:
        commit = self._commit(handler, repo, revision)
        if commit is None:
            return
        files, entries = repo.commits[commit], []
        for folder in sorted({p.rsplit("/", 1)[0] for p in files if "/" in p}):
            entries.append({"type": "directory", "oid": hashlib.sha1(folder.encode()).hexdigest(), "path": folder})
        for path in sorted(files):
            content = files[path]
            entry = {"type": "file", "oid": _git_oid(content), "size": len(content), "path": path}
            if _is_lfs(path):
                entry["lfs"] = {"oid": hashlib.sha256(content).hexdigest(), "size": len(content), "pointerSize": 134}
            entries.append(entry)
        _send(handler, 200, json.dumps(entries).encode(), {"Content-Type": "application/json"})

    def _resolve(self, handler, repo: Repo, revision: str, path: str) -> None:
        commit = self._commit(handler, repo, revision)
        if commit is None:
            return
        content = repo.commits[commit].get(path)
        if content is None:
            return _send(handler, 404, headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit})
        if _is_lfs(path):
            sha256 = hashlib.sha256(content).hexdigest()
            return _send(handler, 302, headers={
                "Location": f"{self.storage_url}/{sha256}?name={quote(path.rsplit('/', 1)[-1])}",
                "X-Linked-Etag": f'"{sha256}"', "X-Linked-Size": str(len(content)), "X-Repo-Commit": commit,
                "ETag": f'"{_git_oid(content)}"'})
        _send(handler, 200, content, {"ETag": f'"{_git_oid(content)}"', "X-Repo-Commit": commit})

    def _storage(self, handler) -> None:
        content = self.blobs.get(urlsplit(handler.path).path.strip("/"))
        if content is None:
            return _send(handler, 404)
        sha256 = hashlib.sha256(content).hexdigest()
        start = 0
        wanted = handler.headers.get("Range", "")
        if wanted.startswith("bytes=") and wanted[6:].endswith("-"):
            start = int(wanted[6:-1])
        body = content[start:]
        status = 206 if start else 200
        headers = {"Content-Range": f"bytes {start}-{len(content) - 1}/{len(content)}"} if start else {}
        cut = None
        if handler.command == "GET":
            with self._lock:
                if self.cuts.get(sha256):
                    cut = self.cuts[sha256].pop(0)
        if cut is None:
            return _send(handler, status, body, headers)
        handler.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body[:cut])
        handler.wfile.flush()
        handler.close_connection = True


def _send(handler, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)
