// Octopus's own TypeScript client (@octopusdeploy/api-client) against a running drydock,
// through the client's classes only: no raw HTTP. Run by tests/it/octopus_client.rs,
// which installs the pinned client and starts the real binary:
//
//   DRYDOCK_URL=http://127.0.0.1:PORT ADMIN_KEY=API-... DEPLOYER_KEY=API-... \
//   NODE_PATH=<dir>/node_modules node tests/octopus/client.js
//
// Each step prints "ok <step>: <what it saw>"; a failing step prints the client's last
// request and response (or error) and the script exits 1.

"use strict";

const octopus = require("@octopusdeploy/api-client");
const {
  Client,
  SpaceRepository,
  EnvironmentRepository,
  ProjectGroupRepository,
  LifecycleRepository,
  ProjectRepository,
  ReleaseRepository,
  DeploymentRepository,
  ServerTaskWaiter,
  SpaceServerTaskRepository,
  checkForCapability,
  userGetCurrent,
  resolveSpaceId,
} = octopus;

const url = process.env.DRYDOCK_URL;
const adminKey = process.env.ADMIN_KEY;
const deployerKey = process.env.DEPLOYER_KEY;
const space = "Default";
const unique = process.env.UNIQUE || String(Date.now());

// The last request, response and error each client saw, for a failing step's report.
const seen = [];
function watch(client, who) {
  const record = { who, request: null, response: null, error: null };
  seen.push(record);
  client.subscribeToRequests("compat", (r) => {
    record.request = `${r.method} ${r.url}`;
    record.response = null;
    record.error = null;
  });
  client.subscribeToResponses("compat", (r) => {
    record.request = `${r.method} ${r.url}`;
    record.response = `${r.statusCode}`;
  });
  client.subscribeToErrors("compat", (e) => {
    record.request = `${e.method} ${e.url}`;
    record.response = `${e.statusCode}`;
    record.error = `${e.errorMessage} ${JSON.stringify(e.errors || [])}`;
  });
  return client;
}

let failures = 0;
async function step(name, body) {
  try {
    const said = await body();
    console.log(`ok ${name}: ${said}`);
    return true;
  } catch (e) {
    failures += 1;
    console.log(`FAILED ${name}: ${e && e.stack ? e.stack : e}`);
    for (const r of seen) {
      console.log(`  ${r.who} last request: ${r.request}`);
      console.log(`  ${r.who} last response: ${r.response}; error: ${r.error}`);
    }
    return false;
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function show(value) {
  return JSON.stringify(value);
}

async function deadline(ms, what, probe) {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`gave up after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  let admin;
  let deployer;
  const ids = {};

  const connected = await step("Client.create (GET /api; Version >= 2022.3.5512)", async () => {
    admin = watch(await Client.create({ instanceURL: url, apiKey: adminKey, userAgentApp: "drydock-compat" }), "admin");
    const info = await admin.getServerInformation();
    check(info.installationId, "no InstallationId");
    return `Version ${info.version}, InstallationId ${info.installationId}`;
  });
  if (!connected) return;

  await step("resolveSpaceId(Default)", async () => {
    const id = await resolveSpaceId(admin, space);
    check(id === "Spaces-1", `resolved to ${id}`);
    return id;
  });

  await step("SpaceRepository.list({partialName})", async () => {
    const spaces = await new SpaceRepository(admin).list({ partialName: "Def", take: 2147483647 });
    check(spaces.TotalResults === 1 && spaces.Items[0].Id === "Spaces-1", show(spaces));
    return `${spaces.Items[0].Name} IsDefault=${spaces.Items[0].IsDefault}`;
  });

  await step("SpaceRepository.get(Spaces-1)", async () => {
    const s = await new SpaceRepository(admin).get("Spaces-1");
    check(s.Slug === "default" && s.TaskQueueStopped === false, show(s));
    return s.Name;
  });

  await step("EnvironmentRepository.create x2, list, get", async () => {
    const envs = new EnvironmentRepository(admin, space);
    const staging = await envs.create({ Name: `Staging ${unique}` });
    const production = await envs.create({ Name: `Production ${unique}` });
    check(/^Environments-\d+$/.test(staging.Id), show(staging));
    const listed = await envs.list({ partialName: unique, take: 30 });
    check(listed.Items.some((e) => e.Id === production.Id), show(listed));
    const again = await envs.get(staging.Id);
    check(again.Name === staging.Name, show(again));
    ids.staging = staging;
    ids.production = production;
    return `${staging.Id}, ${production.Id}`;
  });

  await step("ProjectGroupRepository.list, LifecycleRepository.list", async () => {
    const groups = await new ProjectGroupRepository(admin, space).list({ take: 2147483647 });
    const lifecycles = await new LifecycleRepository(admin, space).list({ take: 2147483647 });
    check(groups.Items.length === 1 && lifecycles.Items.length === 1, show({ groups, lifecycles }));
    ids.group = groups.Items[0].Id;
    ids.lifecycle = lifecycles.Items[0].Id;
    return `${ids.group}, ${ids.lifecycle}`;
  });

  await step("ProjectRepository.create ({Name, ProjectGroupId, LifecycleId}, no script), modify", async () => {
    const projects = new ProjectRepository(admin, space);
    const created = await projects.create({
      Name: `Web ${unique}`,
      ProjectGroupId: ids.group,
      LifecycleId: ids.lifecycle,
      Description: "created by Octopus's client",
    });
    check(created.ProjectGroupId === ids.group && created.LifecycleId === ids.lifecycle, show(created));
    check(created.DeploymentScript === "", `script ${show(created.DeploymentScript)}`);
    const modified = await projects.modify({
      ...created,
      DeploymentScript: "echo hello from drydock\necho a warning >&2\n",
    });
    check(modified.DeploymentScript.includes("hello"), show(modified));
    const slow = await projects.create({
      Name: `Slow ${unique}`,
      ProjectGroupId: ids.group,
      LifecycleId: ids.lifecycle,
      DeploymentScript: "sleep 300\n",
    });
    ids.project = modified;
    ids.slow = slow;
    return `${modified.Id} ${modified.Name}, ${slow.Id}`;
  });

  await step("ReleaseRepository.create (given version, then the next one)", async () => {
    const releases = new ReleaseRepository(admin, space);
    const first = await releases.create({
      spaceName: space,
      ProjectName: ids.project.Name,
      ReleaseVersion: "1.0.0",
      ReleaseNotes: "first",
      PackageVersion: "ignored",
      ChannelName: "ignored",
    });
    check(first.ReleaseVersion === "1.0.0" && /^Releases-\d+$/.test(first.ReleaseId), show(first));
    const next = await releases.create({ spaceName: space, ProjectName: ids.project.Name });
    check(next.ReleaseVersion === "1.0.1", show(next));
    const got = await releases.get(first.ReleaseId);
    check(got.Version === "1.0.0", show(got));
    const forProject = await releases.listForProject(ids.project.Id, {});
    check(forProject.Items.length === 2, show(forProject));
    ids.release = first;
    return `${first.ReleaseId} ${first.ReleaseVersion}, ${next.ReleaseId} ${next.ReleaseVersion}`;
  });

  await step("DeploymentRepository.create to two environments, ServerTaskWaiter", async () => {
    const created = await new DeploymentRepository(admin, space).create({
      spaceName: space,
      ProjectName: ids.project.Name,
      ReleaseVersion: "1.0.0",
      EnvironmentNames: [ids.staging.Name, ids.production.Name],
      UseGuidedFailure: false,
      ForcePackageDownload: false,
      Variables: {},
    });
    check(created.DeploymentServerTasks.length === 2, show(created));
    const taskIds = created.DeploymentServerTasks.map((t) => t.ServerTaskId);
    const polled = [];
    const done = await new ServerTaskWaiter(admin, space).waitForServerTasksToComplete(
      taskIds,
      200,
      60000,
      (t) => polled.push(t.State),
    );
    check(done.length === 2, show(done));
    for (const t of done) {
      check(t.State === "Success" && t.IsCompleted && t.FinishedSuccessfully, show(t));
      check(t.HasWarningsOrErrors === true && typeof t.Duration === "string", show(t));
    }
    ids.task = taskIds[0];
    ids.deployment = created.DeploymentServerTasks[0].DeploymentId;
    return `${taskIds.join(", ")} Success (states polled: ${[...new Set(polled)].join(" ")})`;
  });

  await step("DeploymentRepository.get", async () => {
    const d = await new DeploymentRepository(admin, space).get(ids.deployment);
    check(d.Id === ids.deployment && d.EnvironmentId === ids.staging.Id, show(d));
    return `${d.Id} of ${d.ReleaseId} to ${d.EnvironmentId}`;
  });

  await step("SpaceServerTaskRepository.getById, getByIds, getDetails, getRaw", async () => {
    const tasks = new SpaceServerTaskRepository(admin, space);
    const task = await tasks.getById(ids.task);
    check(task.Id === ids.task && task.HasBeenPickedUpByProcessor === true, show(task));
    const some = await tasks.getByIds([ids.task]);
    check(some.length === 1 && some[0].Id === ids.task, show(some));
    const details = await tasks.getDetails(ids.task);
    check(details.Task.Id === ids.task, show(details.Task));
    check(details.Progress.ProgressPercentage === 100, show(details.Progress));
    const messages = JSON.stringify(details.ActivityLogs);
    check(messages.includes("hello from drydock") && messages.includes('"Error"'), messages);
    check(details.PhysicalLogSize > 0, show(details.PhysicalLogSize));
    const raw = await tasks.getRaw(ids.task);
    check(String(raw).includes("hello from drydock"), show(raw));
    check(Buffer.byteLength(String(raw)) === details.PhysicalLogSize, `${Buffer.byteLength(String(raw))} vs ${details.PhysicalLogSize}`);
    return `details with ${details.ActivityLogs[0].Children[0].LogElements.length} log elements, raw ${String(raw).length} bytes`;
  });

  await step("ServerTaskWaiter cancelOnTimeout on a long task ends Canceled", async () => {
    await new ReleaseRepository(admin, space).create({ spaceName: space, ProjectName: ids.slow.Name, ReleaseVersion: "1" });
    const created = await new DeploymentRepository(admin, space).create({
      spaceName: space,
      ProjectName: ids.slow.Id,
      ReleaseVersion: "1",
      EnvironmentNames: [ids.staging.Id],
    });
    const id = created.DeploymentServerTasks[0].ServerTaskId;
    const tasks = new SpaceServerTaskRepository(admin, space);
    await deadline(20000, `${id} to start`, async () => (await tasks.getById(id)).State === "Executing");
    let thrown = null;
    try {
      await new ServerTaskWaiter(admin, space).waitForServerTaskToComplete(id, 200, 1500, undefined, true);
    } catch (e) {
      thrown = e;
    }
    check(thrown && /Timeout reached/.test(thrown.message), `waiter did not time out: ${thrown}`);
    const ended = await deadline(20000, `${id} to end Canceled`, async () => {
      const t = await tasks.getById(id);
      return t.State === "Canceled" ? t : null;
    });
    return `${id} ${ended.State} after "${thrown.message}"`;
  });

  await step("checkForCapability", async () => {
    const ok = await checkForCapability(admin, "CreateReleaseCommandV1", "2022.3");
    check(ok === null, `CreateReleaseCommandV1: ${ok}`);
    const ok2 = await checkForCapability(admin, "CreateDeploymentUntenantedCommandV1", "2022.3");
    check(ok2 === null, `CreateDeploymentUntenantedCommandV1: ${ok2}`);
    const missing = await checkForCapability(admin, "CreateDeploymentTenantedCommandV1", "2022.3");
    check(typeof missing === "string", `tenanted: ${missing}`);
    return `both served; tenanted reported missing ("${missing}")`;
  });

  await step("userGetCurrent", async () => {
    const me = await userGetCurrent(admin);
    check(me.Username === "admin" && /^Users-\d+$/.test(me.Id), show(me));
    return `${me.Id} ${me.Username}`;
  });

  await step("maintenance on through client.get/doUpdate; a Project Deployer is refused 503", async () => {
    deployer = watch(await Client.create({ instanceURL: url, apiKey: deployerKey, userAgentApp: "drydock-compat" }), "deployer");
    const config = await admin.get("~/api/maintenanceconfiguration");
    check(config.IsInMaintenanceMode === false, show(config));
    const on = await admin.doUpdate("~/api/maintenanceconfiguration", { ...config, IsInMaintenanceMode: true });
    check(on.IsInMaintenanceMode === true, show(on));
    const status = await deployer.get("~/api/serverstatus");
    check(status.IsInMaintenanceMode === true, show(status));
    let refused = null;
    try {
      await new DeploymentRepository(deployer, space).create({
        spaceName: space,
        ProjectName: ids.project.Name,
        ReleaseVersion: "1.0.1",
        EnvironmentNames: [ids.staging.Name],
      });
    } catch (e) {
      refused = e;
    }
    check(refused && refused.StatusCode === 503, `not refused 503: ${refused && refused.StatusCode} ${refused}`);
    let releaseRefused = null;
    try {
      await new ReleaseRepository(deployer, space).create({ spaceName: space, ProjectName: ids.project.Name, ReleaseVersion: "9.9.9" });
    } catch (e) {
      releaseRefused = e;
    }
    check(releaseRefused && releaseRefused.StatusCode === 503, `release not refused 503: ${releaseRefused && releaseRefused.StatusCode}`);
    return `deployment and release refused ${refused.StatusCode} ("${refused.message.split("\n")[0]}")`;
  });

  await step("maintenance off through doUpdate; the same deployment then succeeds", async () => {
    const config = await admin.get("~/api/maintenanceconfiguration");
    const off = await admin.doUpdate("~/api/maintenanceconfiguration", { ...config, IsInMaintenanceMode: false });
    check(off.IsInMaintenanceMode === false, show(off));
    const created = await new DeploymentRepository(deployer, space).create({
      spaceName: space,
      ProjectName: ids.project.Name,
      ReleaseVersion: "1.0.1",
      EnvironmentNames: [ids.staging.Name],
    });
    const id = created.DeploymentServerTasks[0].ServerTaskId;
    const done = await new ServerTaskWaiter(deployer, space).waitForServerTaskToComplete(id, 200, 60000);
    check(done.State === "Success", show(done));
    return `${id} ${done.State}`;
  });

  await step("approvals: a rule through doUpdate, interruptions through get/doUpdate/post, ServerTaskWaiter waits through it", async () => {
    const project = await admin.get(`~/api/projects/${ids.project.Id}`);
    const guarded = await admin.doUpdate(`~/api/projects/${ids.project.Id}`, {
      ...project,
      ApprovalRules: [{ EnvironmentIds: [ids.production.Id], RoleNames: ["System Manager"] }],
    });
    check(guarded.ApprovalRules.length === 1 && guarded.ApprovalRules[0].NotByRequester === true, show(guarded));
    const created = await new DeploymentRepository(deployer, space).create({
      spaceName: space,
      ProjectName: ids.project.Name,
      ReleaseVersion: "1.0.1",
      EnvironmentNames: [ids.production.Name],
    });
    const id = created.DeploymentServerTasks[0].ServerTaskId;
    const waiting = await new SpaceServerTaskRepository(deployer, space).getById(id);
    check(waiting.State === "Queued" && waiting.HasPendingInterruptions === true, show(waiting));
    const spaceId = await resolveSpaceId(admin, space);
    const page = await admin.get(`~/api/${spaceId}/interruptions{?regarding,pendingOnly}`, { regarding: id, pendingOnly: true });
    check(page.ItemType === "Interruption" && page.Items.length === 1, show(page));
    const interruption = page.Items[0];
    check(interruption.IsPending && interruption.TaskId === id && interruption.CanTakeResponsibility, show(interruption));
    const asDeployer = await deployer.get(`~/api/${spaceId}/interruptions/${interruption.Id}`);
    check(asDeployer.CanTakeResponsibility === false, show(asDeployer));
    await admin.doUpdate(`~/api/${spaceId}/interruptions/${interruption.Id}/responsible`, {});
    const mine = await admin.get(`~/api/${spaceId}/interruptions/${interruption.Id}`);
    check(mine.HasResponsibility === true && /^Users-\d+$/.test(mine.ResponsibleUserId), show(mine));
    const polled = [];
    const waiter = new ServerTaskWaiter(deployer, space).waitForServerTaskToComplete(id, 200, 60000, (t) => polled.push(t.State));
    const submitted = await admin.post(`~/api/${spaceId}/interruptions/${interruption.Id}/submit`, {
      ...mine.Form.Values,
      Notes: "approved by Octopus's client",
      Result: "Proceed",
    });
    check(submitted.IsPending === false, show(submitted));
    const done = await waiter;
    check(done.State === "Success" && done.HasPendingInterruptions === false, show(done));
    await admin.doUpdate(`~/api/projects/${ids.project.Id}`, { ...guarded, ApprovalRules: [] });
    return `${id} waited (${interruption.Id}), then ${done.State}; states polled: ${[...new Set(polled)].join(" ")}`;
  });

  await step("nodes: client.get summary and details", async () => {
    const summary = await admin.get("~/api/octopusservernodes/summary");
    check(summary.Nodes.length >= 1 && summary.IsInMaintenanceMode === false, show(summary));
    const details = await admin.get(`~/api/octopusservernodes/${summary.Nodes[0].Id}/details`);
    check(Array.isArray(details.RunningTasks), show(details));
    return `${summary.Nodes.length} node(s), ${details.RunningTasks.length} running on ${details.Name}`;
  });
}

main()
  .catch((e) => {
    failures += 1;
    console.log(`FAILED: ${e && e.stack ? e.stack : e}`);
  })
  .finally(() => {
    console.log(failures === 0 ? "all client steps passed" : `${failures} client step(s) failed`);
    process.exit(failures === 0 ? 0 : 1);
  });
