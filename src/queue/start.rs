//! A node's start: it takes its name (refused while another live process holds it),
//! registers its version and schema level, fails what a dead holder of the name left
//! running, and stops what that node's scripts left behind on this host.

use super::{clock, nodes, schedules, scripts, tasks, Queue, Settings};
use crate::error::Result;
use crate::store::Store;

impl Queue {
    /// Takes this node's name, refusing while another live process holds it (see
    /// [`crate::cluster::holder_is_live`]): only then does it fail what a dead holder
    /// of the name left running, and stop what their scripts left behind. No start
    /// ever fails a live node's tasks.
    pub fn claim(&self, store: &Store, settings: &Settings) -> Result<()> {
        let script_user = settings
            .script_user
            .as_ref()
            .map_err(|e| crate::error::Error::BadRequest(e.clone(), Vec::new()))?;
        scripts::prepare_work_dir(&settings.work_dir)
            .map_err(|e| crate::error::Error::BadRequest(e, Vec::new()))?;
        if let Ok(mut work_dir) = self.inner.work_dir.lock() {
            *work_dir = Some(settings.work_dir.clone());
        }
        if let Some(warning) = script_user.warning() {
            eprintln!("drydock: warning: {warning}");
        }
        let message = "interrupted: server node stopped";
        let node = settings.node.clone();
        let me = crate::cluster::this_process();
        let failed = store.bookkeeping_now(|tx| {
            let now = clock::now_ms();
            if let Some(holder) = nodes::name_holder(tx, &node)? {
                if crate::cluster::holder_is_live(&holder, &me, now, settings.node_offline_ms) {
                    return Err(crate::cluster::name_taken(&node, &holder, &me));
                }
            }
            schedules::prepare(tx, &settings.jobs.intervals(), now)?;
            let cap = settings.task_cap as i64;
            let version = crate::config::VERSION;
            nodes::register(
                tx,
                &node,
                (version, settings.schema_level),
                cap,
                settings.started_at,
                &me,
            )?;
            tasks::fail_interrupted(tx, &node, message, now)
        })?;
        if !failed.is_empty() {
            let killed =
                crate::process::kill_leftovers(&settings.work_dir, &failed, script_user.uid());
            println!(
                "drydock: {} task(s) left running by node {node} failed as interrupted; {killed} leftover process(es) of their scripts stopped",
                failed.len()
            );
        }
        // Tasks of this node that another node failed while it was away (NodeHealth)
        // may have left scripts running here, which only this host can stop: those whose
        // directories are still in the work directory, which ended and were this node's.
        let left: Vec<i64> = scripts::task_dirs(&settings.work_dir)
            .into_iter()
            .filter(|id| !failed.contains(id))
            .collect();
        let ended = store.read_now(|c| {
            let mut ended = Vec::new();
            for id in left {
                let task = tasks::find(c, id)?;
                if task.is_some_and(|t| {
                    t.server_node.as_deref() == Some(node.as_str()) && t.state.is_completed()
                }) {
                    ended.push(id);
                }
            }
            Ok(ended)
        })?;
        if !ended.is_empty() {
            let killed =
                crate::process::kill_leftovers(&settings.work_dir, &ended, script_user.uid());
            println!(
                "drydock: {} task(s) of node {node} ended while it was away; {killed} leftover process(es) of their scripts stopped",
                ended.len()
            );
        }
        Ok(())
    }
}
