//! Files that hold keys, usage or state are their owner's alone: the config `init` writes and its
//! backup, the state file, the usage database with its WAL files, and the instance file are 0600;
//! a rewrite keeps the mode the owner gave; nothing is written through a link in a file's place.
#![cfg(unix)]

mod common;

use common::{endpoint, mock, Gateway};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `switchyard init` with HOME at `home` and one provider key in the environment.
fn init(home: &Path, force: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command.arg("init");
    if force {
        command.arg("--force");
    }
    command
        .current_dir(home)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("ANTHROPIC_API_KEY", "sk-ant-test-0001")
        .output()
        .expect("run switchyard init")
}

fn ok(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn init_writes_a_config_only_its_owner_can_read_in_folders_only_its_owner_can_enter() {
    let home = tempfile::tempdir().unwrap();
    ok(&init(home.path(), false));
    let config = home.path().join(".config/switchyard/config.yaml");
    assert_eq!(mode(&config), 0o600);
    assert_eq!(mode(config.parent().unwrap()), 0o700);
    assert_eq!(mode(&home.path().join(".config")), 0o700);
}

#[test]
fn init_force_keeps_the_configs_mode_and_writes_a_private_backup() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".config/switchyard/config.yaml");
    let backup = home.path().join(".config/switchyard/config.yaml.bak");
    ok(&init(home.path(), false));
    std::fs::write(&config, "# my own edits\n").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    ok(&init(home.path(), true));
    assert_eq!(mode(&config), 0o600, "a 0600 config stays 0600");
    assert_eq!(
        std::fs::read_to_string(&backup).unwrap(),
        "# my own edits\n"
    );
    assert_eq!(mode(&backup), 0o600);
    // A mode the owner chose sticks too.
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();
    ok(&init(home.path(), true));
    assert_eq!(mode(&config), 0o640);
    assert_eq!(mode(&backup), 0o600);
}

#[test]
fn init_force_does_not_write_through_a_link_at_the_backup_path() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join(".config/switchyard/config.yaml");
    let backup = home.path().join(".config/switchyard/config.yaml.bak");
    ok(&init(home.path(), false));
    let victim = home.path().join("victim.txt");
    std::fs::write(&victim, "someone else's file\n").unwrap();
    std::os::unix::fs::symlink(&victim, &backup).unwrap();
    let before = std::fs::read_to_string(&config).unwrap();
    ok(&init(home.path(), true));
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "someone else's file\n"
    );
    assert!(std::fs::symlink_metadata(&backup).unwrap().is_file());
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), before);
    assert_eq!(mode(&backup), 0o600);
}

#[actix_rt::test]
async fn a_gateway_keeps_its_state_file_usage_database_and_instance_file_private() {
    let upstream = mock("up", "k");
    let gw = Gateway::start(&common::config(
        "",
        &[
            endpoint("up", &upstream.url(), "k", 1),
            endpoint("spare", &upstream.url(), "k", 2),
        ],
    ));
    // The answer comes once the change is in the state file.
    let disabled = common::client()
        .post(format!("{}/admin/endpoints/spare/disable", gw.url))
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status().as_u16(), 200);
    let (status, _, _) = common::post(&gw.url, "/v1/messages", common::MESSAGES_BODY).await;
    assert_eq!(status, 200);
    // Asking for usage writes what is buffered first.
    let usage = common::get_json(&format!("{}/admin/usage", gw.url)).await;
    assert_eq!(usage["totals"]["requests"], 1, "{usage}");
    let dir = gw.dir.path();
    let state = dir.join("config.state.json");
    assert!(std::fs::read_to_string(&state).unwrap().contains("spare"));
    for name in [
        "config.state.json",
        "config.yaml.usage.sqlite",
        "config.yaml.usage.sqlite-wal",
        "config.yaml.usage.sqlite-shm",
        "config.yaml.instance",
    ] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    let strays: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(strays.is_empty(), "temporary files left: {strays:?}");
}
