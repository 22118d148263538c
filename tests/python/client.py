"""Octopus's Python client (octopus-deploy-swagger-client 1.1.0) reading drydock:
projects by slug, releases by version, the deployments list. Prints `ok <step>` per
step; the first failure prints the request and answer and exits 1."""

import os
import sys

import octopus_deploy_swagger_client as octopus

configuration = octopus.Configuration()
configuration.host = os.environ["DRYDOCK_URL"].rstrip("/")
configuration.api_key["X-Octopus-ApiKey"] = os.environ["DRYDOCK_KEY"]
client = octopus.ApiClient(configuration)
projects = octopus.ProjectsApi(client)
releases = octopus.ReleasesApi(client)
deployments = octopus.DeploymentsApi(client)


def step(name, call, check):
    try:
        result = call()
    except octopus.rest.ApiException as e:
        print(f"FAILED {name}: {e.status} {e.reason}\n{e.body}")
        sys.exit(1)
    problem = check(result)
    if problem:
        print(f"FAILED {name}: {problem}\n{result}")
        sys.exit(1)
    print(f"ok {name}")
    return result


project = step(
    "project by slug",
    lambda: projects.load_by_id_or_slug_response_descriptor_projects_project_project_resource("web-shop"),
    lambda p: None if p.id == "Projects-1" and p.name == "Web shop" else "not Web shop",
)
step(
    "project by slug in the space",
    lambda: projects.load_by_id_or_slug_response_descriptor_projects_project_project_resource_spaces(
        "Spaces-1", "web-shop"
    ),
    lambda p: None if p.id == "Projects-1" else "not Projects-1",
)
release = step(
    "release by version",
    lambda: releases.custom_action_response_descriptor_octopus_server_web_api_actions_release_by_project_and_version_responder(
        "1.2.3", project.id
    ),
    lambda r: None if r.version == "1.2.3" and r.project_id == "Projects-1" else "not 1.2.3",
)
step(
    "deployments list",
    lambda: deployments.custom_query_response_descriptor_octopus_server_web_api_actions_deployments_query_responder(),
    lambda page: None
    if [d.release_id for d in page.items] == [release.id] and page.total_results == 1
    else "not the one deployment",
)
print("all python client steps passed")
