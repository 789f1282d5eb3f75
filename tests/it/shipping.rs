//! What ships beside the binary: the container image's recipe and the systemd unit's
//! install steps, checked as text (base images cannot be pulled everywhere), and the image
//! built where a Docker engine runs.

use std::process::Command;

fn read(rel: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).expect(rel)
}

#[test]
fn the_docker_build_context_leaves_out_build_outputs_and_history() {
    let ignore = read(".dockerignore");
    let lines: Vec<&str> = ignore.lines().map(str::trim).collect();
    for must in ["target/", ".git/", "fuzz/target/"] {
        assert!(lines.contains(&must), ".dockerignore lacks {must}:\n{ignore}");
    }
}

#[test]
fn the_runtime_image_has_ca_certificates_and_says_how_to_mount_data() {
    let file = read("dist/Dockerfile");
    let runtime = file.rsplit("\nFROM ").next().expect("a final stage");
    assert!(runtime.contains("ca-certificates"), "the runtime stage installs no CA bundle:\n{runtime}");
    let uid = runtime.split("--uid ").nth(1).and_then(|r| r.split_whitespace().next()).expect("the runtime user's uid");
    assert!(runtime.contains("USER qxfer"), "{runtime}");
    // The header tells an operator who bind-mounts /data what it must belong to.
    let header: String = file.lines().take_while(|l| l.starts_with('#')).collect::<Vec<_>>().join("\n");
    assert!(header.contains(&format!("uid {uid}")) && header.contains("0700"), "{header}");
    assert!(header.contains(&format!("-o {uid} -g {uid}")), "{header}");
}

#[test]
fn the_systemd_unit_installs_every_manual_page() {
    let unit = read("dist/qxfer.service");
    assert!(unit.contains("qxfer man --out /usr/local/share/man/man1"), "{unit}");
    assert!(!unit.contains("qxfer man > "), "only the top page: {unit}");
}

#[test]
fn the_image_builds_where_docker_runs() {
    let engine = Command::new("docker").arg("info").output();
    if !engine.as_ref().is_ok_and(|o| o.status.success()) {
        eprintln!("no Docker engine runs here (docker info failed); the image build is skipped");
        return;
    }
    let out = Command::new("docker")
        .args(["build", "-f", "dist/Dockerfile", "-t", "qxfer-test", "."])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("docker build");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
