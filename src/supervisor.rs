//! The Supervisor actor: starts the Endpoint actors (under actix's supervisor, so a stopped one is
//! restarted with its state) and the Balancer, reloads the config, and keeps the durable states
//! (auth-failed, operator-disabled) in a small state file beside the config.

use crate::balancer::{Balancer, Member, SetMembers};
use crate::config::{self, Config, EndpointConfig, LiveConfig, ReloadError};
use crate::endpoint::{DurableStateChanged, Endpoint, Reconfigure, SeedSpend, StateSaved};
use crate::history::{EndpointSpend, UsageHistory};
use actix::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The Supervisor actor.
pub struct Supervisor {
    config: Arc<Config>,
    members: Vec<Member>,
    balancer: Addr<Balancer>,
    state_file: Option<StateFile>,
    /// Writes the state file off the worker thread that serves traffic.
    state_writer: Option<StateWriter>,
    /// The config the request handlers read; replaced on reload.
    live: Arc<LiveConfig>,
    /// Asked for the spend of endpoints a reload adds (to seed their budgets).
    usage: UsageHistory,
}

impl Actor for Supervisor {
    type Context = Context<Self>;
}

/// Starts the actors for the config in `live` on the current arbiter; returns the Supervisor's
/// and the Balancer's addresses. `spend` is each endpoint's spend so far this UTC day and month.
pub fn start(
    live: Arc<LiveConfig>,
    usage: UsageHistory,
    spend: &HashMap<String, EndpointSpend>,
) -> (Addr<Supervisor>, Addr<Balancer>) {
    let config = live.get();
    let state_file = config.proxy.state_file.clone().map(StateFile::load);
    let mut balancer_out = None;
    let supervisor = Supervisor::create(|ctx| {
        let report_to = ctx.address().recipient::<DurableStateChanged>();
        let members: Vec<Member> = config
            .endpoints
            .iter()
            .map(|e| {
                let member = start_endpoint(e, &config, report_to.clone(), state_file.as_ref());
                if let Some(spent) = spend.get(&e.id) {
                    // Queued before the Balancer knows the endpoint: no request comes first.
                    member.addr.do_send(seed(spent));
                }
                member
            })
            .collect();
        let balancer =
            Balancer::new(members.clone(), config.balancer.clone(), config.sessions).start();
        balancer_out = Some(balancer.clone());
        Supervisor {
            config: config.clone(),
            members,
            balancer,
            state_writer: state_file
                .as_ref()
                .and_then(|f| StateWriter::start(f.path.clone())),
            state_file,
            live,
            usage,
        }
    });
    let Some(balancer) = balancer_out else {
        unreachable!("Supervisor::create runs its closure before returning")
    };
    (supervisor, balancer)
}

fn start_endpoint(
    endpoint: &EndpointConfig,
    config: &Config,
    report_to: Recipient<DurableStateChanged>,
    state_file: Option<&StateFile>,
) -> Member {
    let saved = state_file.and_then(|f| f.saved(endpoint));
    let endpoint = Arc::new(endpoint.clone());
    let for_actor = endpoint.clone();
    let policy = config.health;
    let timeouts = config.timeouts;
    let addr = actix::Supervisor::start(move |_| {
        let actor = Endpoint::new(for_actor, policy, timeouts);
        match saved {
            Some(s) => actor.with_durable_state(report_to, s.auth_failed, s.disabled),
            None => actor.with_durable_state(report_to, false, false),
        }
    });
    if let Some(s) = saved {
        if s.auth_failed || s.disabled {
            log::info!(
                "endpoint {}: restored from the state file ({})",
                endpoint.id,
                if s.auth_failed {
                    "auth_failed"
                } else {
                    "disabled by operator"
                }
            );
        }
    }
    Member {
        config: endpoint,
        addr: Arc::new(addr),
    }
}

impl Handler<StateSaved> for Supervisor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _msg: StateSaved, _ctx: &mut Self::Context) -> Self::Result {
        match &self.state_writer {
            Some(writer) => Box::pin(writer.saved()),
            // Without the thread, changes were written on this one as they came.
            None => Box::pin(std::future::ready(())),
        }
    }
}

impl Handler<DurableStateChanged> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: DurableStateChanged, _ctx: &mut Self::Context) {
        let Some(file) = self.state_file.as_mut() else {
            return;
        };
        let Some(member) = self.members.iter().find(|m| m.config.id == msg.id) else {
            return;
        };
        file.set(&member.config, msg.auth_failed, msg.operator_disabled);
        match (&self.state_writer, file.contents()) {
            (Some(writer), Ok(bytes)) => writer.write(bytes),
            (None, _) => {
                if let Err(e) = file.save() {
                    log::warn!("state file {}: cannot write: {e}", file.path.display());
                }
            }
            (_, Err(e)) => log::warn!("state file {}: cannot write: {e}", file.path.display()),
        }
    }
}

/// Re-reads the config file and applies it; an invalid file keeps the old config.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<(), Arc<ReloadError>>")]
pub struct Reload;

impl Handler<Reload> for Supervisor {
    type Result = Result<(), Arc<ReloadError>>;

    fn handle(&mut self, _msg: Reload, ctx: &mut Self::Context) -> Self::Result {
        let Some(path) = self.config.source.clone() else {
            return Err(Arc::new(ReloadError::NoConfigFile));
        };
        match config::load_file(&path) {
            Ok(new) => {
                self.apply(Arc::new(new), ctx);
                self.live.set_error(None);
                log::info!("config reloaded from {}", path.display());
                Ok(())
            }
            Err(e) => {
                let error = Arc::new(ReloadError::from(e));
                log::error!("config reload failed, keeping the running config: {error}");
                self.live.set_error(Some(error.clone()));
                Err(error)
            }
        }
    }
}

impl Supervisor {
    /// Puts a new config in force: unchanged endpoints keep their actor and state, removed ones
    /// take no new requests (and finish what they have), new ones start.
    fn apply(&mut self, new: Arc<Config>, ctx: &mut Context<Self>) {
        let old = std::mem::replace(&mut self.config, new.clone());
        if old.proxy.port != new.proxy.port
            || old.proxy.allow_lan_access != new.proxy.allow_lan_access
        {
            log::warn!("proxy.port / proxy.allow_lan_access changed: the listening address changes only on restart");
        }
        let report_to = ctx.address().recipient::<DurableStateChanged>();
        let mut members = Vec::with_capacity(new.endpoints.len());
        for endpoint in &new.endpoints {
            let same = self.members.iter().find(|m| {
                m.config.id == endpoint.id
                    && m.config.base_url == endpoint.base_url
                    && m.config.api_key == endpoint.api_key
            });
            match same {
                Some(member) => {
                    let config = Arc::new(endpoint.clone());
                    member.addr.do_send(Reconfigure {
                        config: config.clone(),
                        policy: new.health,
                        timeouts: new.timeouts,
                    });
                    members.push(Member {
                        config,
                        addr: member.addr.clone(),
                    });
                }
                None => {
                    log::info!("endpoint {}: added", endpoint.id);
                    let member =
                        start_endpoint(endpoint, &new, report_to.clone(), self.state_file.as_ref());
                    self.seed_budget(&member);
                    members.push(member);
                }
            }
        }
        for gone in self
            .members
            .iter()
            .filter(|m| !members.iter().any(|n| n.addr == m.addr))
        {
            log::info!(
                "endpoint {}: removed (requests in flight finish)",
                gone.config.id
            );
        }
        self.members = members.clone();
        self.balancer.do_send(SetMembers {
            members,
            settings: new.balancer.clone(),
            sessions: new.sessions,
        });
        self.live.set(new);
    }
}

fn seed(spent: &EndpointSpend) -> SeedSpend {
    SeedSpend {
        today_usd: spent.today_usd,
        month_usd: spent.month_usd,
    }
}

impl Supervisor {
    /// Tells an endpoint a reload added what the history says it spent (if anything).
    fn seed_budget(&self, member: &Member) {
        if !self.usage.is_enabled() {
            return;
        }
        let usage = self.usage.clone();
        let addr = member.addr.clone();
        let id = member.config.id.clone();
        actix::spawn(async move {
            if let Ok(spend) = usage.spend(std::time::SystemTime::now()).await {
                // Read: an endpoint the history has no cost of spent nothing.
                addr.do_send(seed(&spend.get(&id).copied().unwrap_or_default()));
            }
        });
    }
}

/// Durable endpoint states on disk: `{"endpoints": {"<id>": {...}}}`. A missing or corrupt file is
/// treated as empty (and logged); it never stops the gateway.
pub struct StateFile {
    path: PathBuf,
    data: StateFileData,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFileData {
    endpoints: BTreeMap<String, SavedEndpoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct SavedEndpoint {
    /// Saved states apply only while the endpoint's url and key stay the same.
    #[serde(default)]
    fingerprint: Fingerprint,
    #[serde(default)]
    auth_failed: bool,
    #[serde(default)]
    disabled: bool,
}

/// The default id of (base_url, key): tells a changed key apart without storing it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
struct Fingerprint(u32);

fn fingerprint(endpoint: &EndpointConfig) -> Fingerprint {
    let id = config::default_endpoint_id(&endpoint.base_url, endpoint.api_key.expose());
    Fingerprint(u32::from_str_radix(&id, 16).unwrap_or(0))
}

impl StateFile {
    /// Reads the state file at `path`; a missing or unreadable file gives an empty one.
    pub fn load(path: PathBuf) -> Self {
        let data = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(data) => data,
                Err(e) => {
                    log::warn!(
                        "state file {}: ignored, it is not valid ({e})",
                        path.display()
                    );
                    StateFileData::default()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => StateFileData::default(),
            Err(e) => {
                log::warn!(
                    "state file {}: ignored, cannot read it ({e})",
                    path.display()
                );
                StateFileData::default()
            }
        };
        StateFile { path, data }
    }

    fn saved(&self, endpoint: &EndpointConfig) -> Option<SavedEndpoint> {
        self.data
            .endpoints
            .get(&endpoint.id)
            .copied()
            .filter(|s| s.fingerprint == fingerprint(endpoint))
    }

    fn set(&mut self, endpoint: &EndpointConfig, auth_failed: bool, disabled: bool) {
        if auth_failed || disabled {
            self.data.endpoints.insert(
                endpoint.id.clone(),
                SavedEndpoint {
                    fingerprint: fingerprint(endpoint),
                    auth_failed,
                    disabled,
                },
            );
        } else {
            self.data.endpoints.remove(&endpoint.id);
        }
    }

    /// What the file holds now.
    fn contents(&self) -> std::io::Result<Vec<u8>> {
        serde_json::to_vec_pretty(&self.data).map_err(std::io::Error::other)
    }

    /// Writes the file atomically (a temporary file, then a rename), on the caller's thread; a
    /// new file is readable by its owner alone.
    pub fn save(&self) -> std::io::Result<()> {
        write_atomically(&self.path, &self.contents()?)
    }
}

/// A new file (0600, or the mode the owner gave the old one) renamed over the state file.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::files::replace(path, bytes, crate::files::Permissions::KeepExisting)
}

/// Writes the state file on a thread of its own, so that the one worker thread serving all
/// traffic never waits for the disk. Writes in a burst collapse: the newest contents win.
struct StateWriter {
    tx: Option<std::sync::mpsc::Sender<WriterJob>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

enum WriterJob {
    Write(Vec<u8>),
    /// Answered once everything sent before it is on disk.
    Saved(tokio::sync::oneshot::Sender<()>),
}

impl StateWriter {
    fn start(path: PathBuf) -> Option<StateWriter> {
        let (tx, rx) = std::sync::mpsc::channel::<WriterJob>();
        let spawned = std::thread::Builder::new()
            .name("state-file".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    let (mut newest, mut waiting) = (None, Vec::new());
                    for job in std::iter::once(job).chain(rx.try_iter()) {
                        match job {
                            WriterJob::Write(bytes) => newest = Some(bytes),
                            WriterJob::Saved(done) => waiting.push(done),
                        }
                    }
                    if let Some(bytes) = newest {
                        if let Err(e) = write_atomically(&path, &bytes) {
                            log::warn!("state file {}: cannot write: {e}", path.display());
                        }
                    }
                    for done in waiting {
                        let _ = done.send(());
                    }
                }
            });
        match spawned {
            Ok(thread) => Some(StateWriter {
                tx: Some(tx),
                thread: Some(thread),
            }),
            Err(e) => {
                log::warn!("state file: no writer thread ({e}); writing on the worker");
                None
            }
        }
    }

    fn write(&self, bytes: Vec<u8>) {
        // The thread lives as long as the sender; a send fails only if it died.
        if !self.send(WriterJob::Write(bytes)) {
            log::warn!("state file: the writer thread is gone; a change was not saved");
        }
    }

    /// Resolves once every write sent before it is on disk (at once if the thread is gone).
    fn saved(&self) -> impl std::future::Future<Output = ()> {
        let (done, saved) = tokio::sync::oneshot::channel();
        let sent = self.send(WriterJob::Saved(done));
        async move {
            if sent {
                let _ = saved.await;
            }
        }
    }

    fn send(&self, job: WriterJob) -> bool {
        self.tx.as_ref().is_some_and(|tx| tx.send(job).is_ok())
    }
}

impl Drop for StateWriter {
    /// At shutdown, what was sent is on disk before the process exits.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(key: &str) -> EndpointConfig {
        config::parse(
            &format!(
                "endpoints:\n  - id: e1\n    base_url: https://a.example\n    api_key: {key}\n"
            ),
            &|_| None,
        )
        .unwrap()
        .endpoints
        .remove(0)
    }

    #[test]
    fn durable_states_round_trip_and_a_changed_key_starts_fresh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.state.json");
        let mut file = StateFile::load(path.clone());
        file.set(&endpoint("k1"), true, false);
        file.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("k1\""), "no key in the state file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "the state file is its owner's alone");
        }
        let file = StateFile::load(path.clone());
        assert_eq!(
            file.saved(&endpoint("k1")).map(|s| s.auth_failed),
            Some(true)
        );
        assert_eq!(file.saved(&endpoint("k2")), None);
    }

    #[test]
    fn a_corrupt_or_missing_state_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(&path, b"{not json").unwrap();
        assert!(StateFile::load(path).data.endpoints.is_empty());
        assert!(StateFile::load(dir.path().join("missing.json"))
            .data
            .endpoints
            .is_empty());
    }
}
