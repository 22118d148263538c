//! The threads that run claimed tasks: kept between tasks instead of one started and
//! ended per task (a thread's start maps its stack, its end unmaps it, and on a busy
//! queue that cost as much CPU as the rest of the task's bookkeeping). A task goes to an
//! idle thread, or to a new one when none is idle; a thread idle for [`IDLE`] ends, so
//! a quiet node keeps none.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub const IDLE: Duration = Duration::from_secs(10);

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Threads waiting for a job that no job was promised to yet.
    idle: usize,
    /// Jobs promised to waiting threads (each taken by the next thread that wakes):
    /// `idle + promised` threads wait.
    promised: usize,
    stopping: bool,
    threads: Vec<JoinHandle<()>>,
    started: u64,
}

#[derive(Default)]
pub struct Runners {
    state: Mutex<State>,
    ready: Condvar,
}

impl Runners {
    /// Runs `job` on an idle thread, or on a new one. Fails only when no thread can be
    /// started and none is idle; the job is then dropped unrun.
    pub fn run(self: &Arc<Self>, job: Job) -> std::io::Result<()> {
        let mut state = self.lock();
        state.jobs.push_back(job);
        if state.idle > 0 {
            state.idle -= 1;
            state.promised += 1;
            drop(state);
            self.ready.notify_one();
            return Ok(());
        }
        state.started += 1;
        let runners = Arc::clone(self);
        let spawned = std::thread::Builder::new()
            .name(format!("drydock-runner-{}", state.started))
            .spawn(move || runners.work());
        match spawned {
            Ok(handle) => {
                state.threads.retain(|t| !t.is_finished());
                state.threads.push(handle);
                Ok(())
            }
            Err(e) => {
                state.jobs.pop_back();
                Err(e)
            }
        }
    }

    /// Lets every thread finish its job, and waits for them; queued jobs still run.
    pub fn stop(&self) {
        let threads = {
            let mut state = self.lock();
            state.stopping = true;
            std::mem::take(&mut state.threads)
        };
        self.ready.notify_all();
        for t in threads {
            let _ = t.join();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn work(&self) {
        loop {
            let job = {
                let mut state = self.lock();
                loop {
                    if let Some(job) = state.jobs.pop_front() {
                        break job;
                    }
                    if state.stopping {
                        return;
                    }
                    state.idle += 1;
                    let (next, waited) = self
                        .ready
                        .wait_timeout(state, IDLE)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    state = next;
                    if state.promised > 0 {
                        state.promised -= 1;
                    } else {
                        state.idle -= 1;
                    }
                    // Deciding under the lock: a job queued after this sees one idle
                    // thread fewer and starts a new one.
                    if waited.timed_out() && state.jobs.is_empty() {
                        return;
                    }
                }
            };
            job();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    #[test]
    fn jobs_run_at_once_on_as_many_threads_as_they_need_and_threads_are_reused() {
        let runners = Arc::new(Runners::default());
        let (started, seen) = mpsc::channel();
        let (release, gate) = (Arc::new(Mutex::new(())), Arc::new(AtomicUsize::new(0)));
        let held = release.lock().unwrap();
        // Five jobs that block until released: all five must be running at once.
        for _ in 0..5 {
            let (started, release, gate) = (started.clone(), release.clone(), gate.clone());
            runners
                .run(Box::new(move || {
                    started.send(()).unwrap();
                    drop(release.lock().unwrap());
                    gate.fetch_add(1, Ordering::SeqCst);
                }))
                .unwrap();
        }
        for _ in 0..5 {
            seen.recv_timeout(Duration::from_secs(5))
                .expect("a job did not start");
        }
        drop(held);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while gate.load(Ordering::SeqCst) < 5 {
            assert!(std::time::Instant::now() < deadline, "jobs did not finish");
            std::thread::sleep(Duration::from_millis(1));
        }
        // The five threads are idle now: more jobs start no new thread.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while runners.lock().idle < 5 {
            assert!(
                std::time::Instant::now() < deadline,
                "threads did not go idle"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // One after another (as the queue hands them out, never more than its cap).
        for _ in 0..20 {
            let started = started.clone();
            runners
                .run(Box::new(move || started.send(()).unwrap()))
                .unwrap();
            seen.recv_timeout(Duration::from_secs(5))
                .expect("a job did not run");
        }
        assert_eq!(runners.lock().started, 5);
        runners.stop();
        assert!(runners.lock().threads.is_empty());
    }
}
