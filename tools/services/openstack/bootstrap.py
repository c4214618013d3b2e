"""What tools/services/45-openstack.sh creates through the APIs once
Keystone (``catalog``) and Nova and Glance (``resources``) answer, in one
process each (an ``openstack`` command per object costs seconds here).

    python bootstrap.py catalog STACK_JSON
    python bootstrap.py resources STACK_JSON

STACK_JSON is the script's ``stack.json`` (admin credentials, the
services' URLs, the guest's kernel and initramfs).  ``catalog`` adds the
services and their endpoints (identity's came with ``keystone-manage
bootstrap``); ``resources`` uploads the tiny guest to Glance as a kernel,
a ramdisk and a small raw root disk that names both (Nova's libvirt
driver boots the kernel directly, with the image's ``os_command_line``),
and makes the flavor.  Both are idempotent: what exists stays.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

#: service type -> (name, the stack.json key of its URL)
SERVICES = {
    "compute": ("nova", "compute_url"),
    "placement": ("placement", "placement_url"),
    "image": ("glance", "image_url"),
    "infra-optim": ("watcher", "watcher_url"),
    "network": ("neutron", "network_url"),
    "metric": ("gnocchi", "metric_url"),
}


def admin_session(stack: dict[str, Any]) -> ks_session.Session:
    auth = v3.Password(auth_url=stack["auth_url"], username="admin",
                       password=stack["password"], project_name="admin",
                       user_domain_id="default", project_domain_id="default")
    return ks_session.Session(auth=auth)


def catalog(stack: dict[str, Any]) -> None:
    s = admin_session(stack)
    ks = {"endpoint_override": stack["auth_url"].rstrip("/")}
    have = {x["type"]: x["id"] for x in
            s.get("/services", **ks).json()["services"]}
    endpoints = s.get("/endpoints", **ks).json()["endpoints"]
    for stype, (name, key) in SERVICES.items():
        url = stack.get(key)
        if not url:
            continue
        sid = have.get(stype)
        if sid is None:
            sid = s.post("/services", json={"service": {
                "type": stype, "name": name, "enabled": True}},
                **ks).json()["service"]["id"]
        mine = {e["interface"] for e in endpoints if e["service_id"] == sid}
        for interface in ("public", "internal", "admin"):
            if interface not in mine:
                s.post("/endpoints", json={"endpoint": {
                    "service_id": sid, "interface": interface, "url": url,
                    "region_id": stack["region"]}}, **ks)
    print("catalog: " + ", ".join(sorted(k for k in SERVICES
                                         if stack.get(SERVICES[k][1]))))


def _image(s: ks_session.Session, url: str, name: str, data: bytes,
           fmt: str, props: dict[str, str]) -> str:
    found = s.get(f"{url}/v2/images?name={name}").json()["images"]
    active = [i for i in found if i["status"] == "active"]
    if active:
        return str(active[0]["id"])
    for i in found:  # a half-made one from an interrupted run
        s.delete(f"{url}/v2/images/{i['id']}")
    img = s.post(f"{url}/v2/images", json={
        "name": name, "disk_format": fmt, "container_format": fmt,
        "visibility": "public", **props}).json()
    s.put(f"{url}/v2/images/{img['id']}/file", data=data,
          headers={"Content-Type": "application/octet-stream"})
    return str(img["id"])


def resources(stack: dict[str, Any]) -> None:
    s = admin_session(stack)
    guest = stack["guest"]
    url = stack["image_url"].rstrip("/")
    kernel = _image(s, url, "wa-tiny-kernel",
                    Path(guest["kernel"]).read_bytes(), "aki", {})
    ramdisk = _image(s, url, "wa-tiny-ramdisk",
                     Path(guest["initrd"]).read_bytes(), "ari", {})
    # the root disk nothing reads (the initramfs is the whole system):
    # 1 MiB of zeros, so that Nova has a disk to make
    root = _image(s, url, stack["image_name"], bytes(1 << 20), "ami", {
        "kernel_id": kernel, "ramdisk_id": ramdisk,
        "os_command_line": "console=ttyS0 panic=-1 quiet",
        "hw_qemu_guest_agent": "yes"})
    nova = stack["compute_url"].rstrip("/")
    headers = {"OpenStack-API-Version": "compute 2.55"}
    flavors = s.get(f"{nova}/flavors", headers=headers).json()["flavors"]
    if not any(f["name"] == stack["flavor_name"] for f in flavors):
        s.post(f"{nova}/flavors", headers=headers, json={"flavor": {
            "name": stack["flavor_name"], "ram": stack["guest_mem_mib"],
            "vcpus": 1, "disk": 1}})
    print(f"resources: image {root} (kernel {kernel}, ramdisk {ramdisk}),"
          f" flavor {stack['flavor_name']}")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("catalog", "resources"):
        sys.stderr.write("usage: bootstrap.py catalog|resources "
                         "STACK_JSON\n")
        return 2
    stack = json.loads(Path(argv[1]).read_text())
    {"catalog": catalog, "resources": resources}[argv[0]](stack)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
