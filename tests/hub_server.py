"""A small Hugging Face Hub-compatible HTTP server for tests, on 127.0.0.1.

It speaks the part of the Hub protocol that ``huggingface_hub`` uses to create a repo,
commit regular (non-LFS) files, and download files (HEAD for metadata, then GET). Files
live in memory; every commit gets a new 40-hex id. Requests are logged in ``requests``.

    with HubServer() as hub:
        os.environ["HF_ENDPOINT"] = hub.url
"""

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit


def validate_card(readme):
    """Errors in a model card's YAML header, checked like the Hub does for the keys it knows."""
    import yaml

    if not readme.startswith("---\n") or "\n---\n" not in readme[3:]:
        return ["README.md has no YAML metadata block"]
    try:
        meta = yaml.safe_load(readme[4:readme.index("\n---\n", 3)])
    except yaml.YAMLError as error:
        return [f"YAML does not parse: {error}"]
    errors = [f'"{key}" must be a string' for key in ("library_name", "license", "pipeline_tag")
              if key in meta and not isinstance(meta[key], str)]
    errors += [f'"{key}" must be a list of strings' for key in ("tags", "datasets", "metrics")
               if key in meta and not (isinstance(meta[key], list) and all(isinstance(v, str) for v in meta[key]))]
    if meta.get("license") == "other" and not meta.get("license_name"):
        errors.append('"license_name" is required when "license" is "other"')
    for entry in meta.get("model-index", []):
        for result in entry.get("results", []):
            if not all(isinstance(m.get("value"), (int, float)) and m.get("type") for m in result["metrics"]):
                errors.append("model-index metrics need a type and a numeric value")
    return errors


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def _send(self, status, body=b"", headers=None, head=False):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _not_found(self, code, head=False):
        self._send(404, {"error": code}, {"X-Error-Code": code, "X-Error-Message": code}, head=head)

    def do_POST(self):
        hub = self.server.hub
        path = unquote(urlsplit(self.path).path)
        body = self._body()
        hub.requests.append(("POST", path))
        if path == "/api/validate-yaml":
            errors = validate_card(json.loads(body)["content"])
            return self._send(400 if errors else 200, {"errors": [{"message": e} for e in errors], "warnings": []})
        if path == "/api/repos/create":
            spec = json.loads(body)
            repo_id = f"{spec['organization']}/{spec['name']}" if spec.get("organization") else spec["name"]
            hub.repos.setdefault(repo_id, {"commits": [], "files": {}})
            return self._send(200, {"url": f"{hub.url}/{repo_id}", "name": repo_id, "id": repo_id})
        parts = path.split("/")  # /api/models/ORG/REPO/{preupload,commit}/REVISION
        if len(parts) == 7 and parts[:3] == ["", "api", "models"]:
            repo_id, action = f"{parts[3]}/{parts[4]}", parts[5]
            if repo_id not in hub.repos:
                return self._not_found("RepoNotFound")
            if action == "preupload":
                files = json.loads(body)["files"]
                return self._send(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                  for f in files]})
            if action == "commit":
                return self._commit(repo_id, body)
        self._not_found("NotFound")

    def _commit(self, repo_id, body):
        hub = self.server.hub
        repo = hub.repos[repo_id]
        files = dict(repo["files"])
        for line in body.splitlines():
            item = json.loads(line)
            if item.get("key") == "file":
                value = item["value"]
                files[value["path"]] = base64.b64decode(value["content"])
            elif item.get("key") in ("lfsFile", "deletedFile", "deletedFolder"):
                return self._send(400, {"error": f"this test server does not support {item['key']}"})
        commit = hashlib.sha1(json.dumps(sorted((k, hashlib.sha1(v).hexdigest()) for k, v in files.items()))
                              .encode() + str(len(repo["commits"])).encode()).hexdigest()
        repo["commits"].append(commit)
        repo["files"] = files
        hub.snapshots[(repo_id, commit)] = files
        return self._send(200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{commit}", "commitOid": commit,
                                "success": True})

    def _resolve(self, head):
        hub = self.server.hub
        path = unquote(urlsplit(self.path).path)
        hub.requests.append(("HEAD" if head else "GET", path))
        parts = path.split("/")  # /ORG/REPO/resolve/REVISION/FILE...
        if len(parts) < 6 or parts[3] != "resolve":
            return self._not_found("NotFound", head)
        repo_id, revision, filename = f"{parts[1]}/{parts[2]}", parts[4], "/".join(parts[5:])
        repo = hub.repos.get(repo_id)
        if repo is None or not repo["commits"]:
            return self._not_found("RepoNotFound", head)
        commit = repo["commits"][-1] if revision == "main" else revision
        files = hub.snapshots.get((repo_id, commit))
        if files is None:
            return self._not_found("RevisionNotFound", head)
        if filename not in files:
            return self._not_found("EntryNotFound", head)
        content = files[filename]
        etag = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()  # git blob id, as the Hub
        self._send(200, content, {"X-Repo-Commit": commit, "ETag": f'"{etag}"',
                                  "Content-Type": "application/octet-stream"}, head=head)

    def do_HEAD(self):
        self._resolve(head=True)

    def do_GET(self):
        self._resolve(head=False)


class HubServer:
    """Context manager: a Hub on a free port of 127.0.0.1; ``.url`` is its endpoint."""

    def __init__(self):
        self.repos, self.snapshots, self.requests = {}, {}, []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.hub = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
