"""A tiny client library of the workspace API: the kind of code an outside project tests against wsserver."""
import requests


class WorkspaceClient:
    def __init__(self, base_url, token):
        self.api = base_url.rstrip("/") + "/api/v2"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def my_workspaces(self):
        answer = self.session.get(f"{self.api}/workspaces", timeout=10)
        answer.raise_for_status()
        return [workspace["fullname"] for workspace in answer.json()]

    def create(self, fullname, title=None):
        body = {"fullname": fullname, "createOnly": True}
        if title is not None:
            body["meta"] = {"title": title}
        answer = self.session.put(f"{self.api}/workspaces/{fullname}", json=body, timeout=10)
        answer.raise_for_status()
        return answer.json()

    def join(self, fullname, invite):
        answer = self.session.post(f"{self.api}/workspaces/{fullname}/acl", json={"invite": invite}, timeout=10)
        answer.raise_for_status()
