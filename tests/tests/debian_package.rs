//! The Debian package: `cargo deb` (cargo-deb, installed by scripts/deps.sh) packs the debug
//! build already made (`--profile dev --no-build`: a release build of the workspace would not fit
//! CI's time), then the package is read back (control, conffiles, every file and its mode),
//! checked by lintian, and installed and purged for real with dpkg inside overlays of this
//! machine's /etc, /usr and /var in a private mount namespace (nothing reaches the host).

use smo_tests::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// What the package holds besides directories: path, mode, owner.
const FILES: [(&str, &str); 14] = [
    ("./usr/bin/smo", "-rwxr-xr-x"),
    ("./usr/lib/smo/plugins/default-lp.so", "-rw-r--r--"),
    ("./usr/lib/smo/plugins/ecmr.so", "-rw-r--r--"),
    ("./usr/lib/smo/plugins/ecosystem.so", "-rw-r--r--"),
    ("./usr/lib/smo/plugins/h3ni-energy.so", "-rw-r--r--"),
    ("./usr/lib/smo/plugins/sbmp-gma.so", "-rw-r--r--"),
    ("./lib/systemd/system/smo.service", "-rw-r--r--"),
    ("./etc/smo/smo.toml", "-rw-r--r--"),
    ("./usr/share/doc/smo/README.md", "-rw-r--r--"),
    ("./usr/share/doc/smo/operations.md", "-rw-r--r--"),
    ("./usr/share/doc/smo/configuration.md", "-rw-r--r--"),
    ("./usr/share/doc/smo/copyright", "-rw-r--r--"),
    ("./usr/share/doc/smo/changelog.Debian.gz", "-rw-r--r--"),
    ("./usr/share/lintian/overrides/smo", "-rw-r--r--"),
];

/// The shipped plugins: file name in /usr/lib/smo/plugins and the plugin name inside.
const PLUGINS: [(&str, &str); 5] = [
    ("default-lp.so", "default-lp"),
    ("ecmr.so", "ecmr"),
    ("ecosystem.so", "ecosystem"),
    ("h3ni-energy.so", "h3ni-energy"),
    ("sbmp-gma.so", "sbmp-gma"),
];

fn run(command: &mut Command) -> Output {
    let shown = format!("{command:?}");
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{shown}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{shown}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The package, built once per run into `target/<profile>/deb-test/` from the binaries the
/// workspace build left in `target/<profile>` (they must exist: `cargo build --workspace`).
fn package() -> &'static Path {
    static DEB: OnceLock<PathBuf> = OnceLock::new();
    DEB.get_or_init(|| {
        smo_bin();
        for lib in [
            "smo_default_lp",
            "smo_ecmr",
            "smo_ecosystem",
            "smo_h3ni_energy",
            "smo_sbmp_gma",
        ] {
            plugin_so(lib);
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let version = Command::new(&cargo).args(["deb", "--version"]).output();
        assert!(
            version.as_ref().is_ok_and(|o| o.status.success()),
            "cargo-deb is missing: scripts/deps.sh installs it ({version:?})"
        );
        let out_dir = artifact_dir().join("deb-test");
        let _ = std::fs::remove_dir_all(&out_dir);
        std::fs::create_dir_all(&out_dir).expect("output dir");
        let profile = artifact_dir()
            .file_name()
            .and_then(|n| n.to_str())
            .map(|n| if n == "debug" { "dev" } else { n })
            .expect("profile")
            .to_string();
        let built = run(Command::new(&cargo)
            .current_dir(repo_root())
            .args([
                "deb",
                "-p",
                "smo",
                "--no-build",
                "--fast",
                "--profile",
                &profile,
                "-o",
            ])
            .arg(&out_dir));
        let deb = PathBuf::from(
            stdout(&built)
                .trim()
                .lines()
                .last()
                .expect("the .deb's path"),
        );
        assert_eq!(
            deb.file_name().and_then(|n| n.to_str()),
            Some("smo_0.1.0-1_amd64.deb")
        );
        deb
    })
}

/// `Field: value` lines of the package's control file.
fn control() -> BTreeMap<String, String> {
    let out = run(Command::new("dpkg-deb").arg("-f").arg(package()));
    stdout(&out)
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_package_holds_the_binary_the_plugins_the_unit_and_the_conffile() {
    let fields = control();
    assert_eq!(fields["Package"], "smo");
    assert_eq!(fields["Version"], "0.1.0-1");
    assert_eq!(fields["Architecture"], "amd64");
    let depends: Vec<&str> = fields["Depends"].split(", ").collect();
    assert!(depends.contains(&"adduser"), "{depends:?}");
    assert!(
        depends.iter().any(|d| d.starts_with("libc6")),
        "{depends:?}"
    );

    let info = run(Command::new("dpkg-deb").arg("-I").arg(package()));
    for script in ["postinst", "prerm", "postrm", "conffiles"] {
        assert!(
            stdout(&info).contains(script),
            "no {script}: {}",
            stdout(&info)
        );
    }
    let control_dir = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-e")
        .arg(package())
        .arg(control_dir.path().join("DEBIAN")));
    let listed =
        std::fs::read_to_string(control_dir.path().join("DEBIAN/conffiles")).expect("conffiles");
    assert_eq!(listed.trim(), "/etc/smo/smo.toml");

    // Every file with its mode, owned by root; nothing else but directories.
    let contents = stdout(&run(Command::new("dpkg").arg("--contents").arg(package())));
    let mut files = BTreeMap::new();
    for line in contents.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[1], "0/0", "{line}");
        if !cols[0].starts_with('d') {
            files.insert(cols[5].to_string(), cols[0].to_string());
        }
    }
    let expected: BTreeMap<String, String> = FILES
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(files, expected);

    // The files are the repository's, and the binary and plugins work as packed (stripped).
    let root = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(package())
        .arg(root.path()));
    for (packed, source) in [
        ("lib/systemd/system/smo.service", "dist/smo.service"),
        ("etc/smo/smo.toml", "dist/smo.toml"),
    ] {
        assert_eq!(
            std::fs::read(root.path().join(packed)).unwrap(),
            std::fs::read(repo_root().join(source)).unwrap(),
            "{packed}"
        );
    }
    let smo = root.path().join("usr/bin/smo");
    for (file, name) in PLUGINS {
        let out = run(Command::new(&smo)
            .args(["plugin", "check"])
            .arg(root.path().join("usr/lib/smo/plugins").join(file)));
        let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(info["name"], name);
    }
}

#[test]
fn lintian_reports_no_error_or_warning() {
    let out = Command::new("lintian")
        .args(["--fail-on", "error,warning", "--info"])
        .arg(package())
        .output()
        .expect("lintian runs (scripts/deps.sh installs it)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("lintian:\n{text}");
    assert!(out.status.success(), "lintian: {}\n{text}", out.status);
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("E: ") || l.starts_with("W: ")),
        "{text}"
    );
}

/// Runs `command` in a private mount namespace whose /etc, /usr and /var (and /lib, /bin, /sbin
/// where they are not symbolic links) are overlays of this machine's, written to `upper`, and
/// whose /run is empty: what dpkg and the maintainer scripts change stays in `upper`, and every
/// call with the same `upper` sees what the calls before it left.
fn in_overlay(upper: &Path, command: &[&str]) -> Output {
    for dir in ["/etc", "/usr", "/var"] {
        assert!(
            !upper.starts_with(dir),
            "{} is inside {dir}",
            upper.display()
        );
    }
    const MOUNT: &str = r#"set -e
upper=$1; shift
for d in etc usr var lib bin sbin; do
  if [ -d "/$d" ] && [ ! -L "/$d" ]; then
    mkdir -p "$upper/$d/u" "$upper/$d/w"
    mount -t overlay overlay -o "lowerdir=/$d,upperdir=$upper/$d/u,workdir=$upper/$d/w" "/$d"
  fi
done
# A /run of its own: where systemd runs as PID 1, the maintainer scripts see no
# /run/systemd/system and leave the host's manager alone.
mount -t tmpfs tmpfs /run
exec "$@""#;
    let output = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            MOUNT,
            "sh",
        ])
        .arg(upper)
        .args(command)
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env_remove("SMO_PLUGIN_DIR")
        .env_remove("SMO_SYSTEM_PLUGIN_DIR")
        .output()
        .expect("unshare runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("Operation not permitted") || output.status.success(),
        "installing into an overlay needs root (CI runs as root): {stderr}"
    );
    output
}

fn in_overlay_ok(upper: &Path, command: &[&str]) -> String {
    let out = in_overlay(upper, command);
    assert!(
        out.status.success(),
        "{command:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
}

#[test]
fn dpkg_installs_it_and_smo_finds_the_shipped_plugins_then_purge_removes_the_state() {
    let upper = tempfile::tempdir().unwrap();
    let upper = upper.path();
    let deb = package().display().to_string();
    in_overlay_ok(upper, &["dpkg", "-i", &deb]);

    let status = in_overlay_ok(
        upper,
        &["dpkg-query", "-W", "-f=${Status} ${Version}", "smo"],
    );
    assert_eq!(status, "install ok installed 0.1.0-1");
    let user = in_overlay_ok(upper, &["getent", "passwd", "smo"]);
    let fields: Vec<&str> = user.trim().split(':').collect();
    assert_eq!(fields[5], "/var/lib/smo", "{user}");
    assert!(
        fields[6].ends_with("nologin") || fields[6].ends_with("false"),
        "{user}"
    );
    let modes = in_overlay_ok(
        upper,
        &[
            "stat",
            "-c",
            "%n %U:%G %a",
            "/var/lib/smo",
            "/var/lib/smo/plugins",
            "/etc/smo/smo.toml",
            "/usr/lib/smo/plugins",
        ],
    );
    assert_eq!(
        modes.lines().collect::<Vec<_>>(),
        [
            "/var/lib/smo smo:smo 700",
            "/var/lib/smo/plugins smo:smo 750",
            "/etc/smo/smo.toml root:smo 640",
            "/usr/lib/smo/plugins root:root 755",
        ]
    );
    // Enabled as dh_installsystemd would (not started: systemd is not running here).
    let wants = in_overlay_ok(
        upper,
        &[
            "readlink",
            "/etc/systemd/system/multi-user.target.wants/smo.service",
        ],
    );
    assert_eq!(wants.trim(), "/lib/systemd/system/smo.service");
    // The unit as installed, with the real /usr/bin/smo.
    in_overlay_ok(
        upper,
        &[
            "systemd-analyze",
            "verify",
            "--man=false",
            "/lib/systemd/system/smo.service",
        ],
    );

    // As the service's user, with no --plugin-dir: the operators' directory is empty and the
    // shipped plugins are found.
    let listed = in_overlay_ok(
        upper,
        &[
            "runuser",
            "-u",
            "smo",
            "--",
            "/usr/bin/smo",
            "plugin",
            "list",
            "--dir",
        ],
    );
    let rows: Vec<serde_json::Value> = serde_json::from_str(&listed).expect("JSON rows");
    let names: Vec<&str> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["ok"], true, "{r}");
            assert_eq!(r["origin"], "shipped", "{r}");
            r["plugin"]["name"].as_str().unwrap_or_default()
        })
        .collect();
    assert_eq!(names, PLUGINS.map(|(_, name)| name));
    // The checkout may sit in a directory only its owner can enter (a `mktemp -d` clone):
    // the `smo` user reads a copy.
    let readable = readable_scenarios();
    let scenario = readable
        .path()
        .join("eu-5dc-24h.yaml")
        .display()
        .to_string();
    let report = in_overlay_ok(
        upper,
        &[
            "runuser",
            "-u",
            "smo",
            "--",
            "/usr/bin/smo",
            "simulate",
            &scenario,
            "--strategy",
            "ecmr/heuristic",
            "--json",
            "--no-progress",
            "--no-timing",
            "--state-dir",
            "/var/lib/smo",
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&report).expect("JSON report");
    assert!(number(&doc["strategies"][0]["totals"], "energy_kwh") > 0.0);

    // Purge: the package's files, the state (and the operators' plugins), the permission
    // override go; the conffile too; the system user stays, as Debian leaves them.
    in_overlay_ok(upper, &["dpkg", "--purge", "smo"]);
    let left = in_overlay(
        upper,
        &[
            "ls",
            "-d",
            "/usr/bin/smo",
            "/var/lib/smo",
            "/etc/smo/smo.toml",
            "/usr/lib/smo",
        ],
    );
    assert!(!left.status.success());
    assert!(
        stdout(&left).trim().is_empty(),
        "left after purge: {}",
        stdout(&left)
    );
    let overrides = in_overlay(upper, &["dpkg-statoverride", "--list", "/etc/smo/smo.toml"]);
    assert!(!overrides.status.success(), "{}", stdout(&overrides));
    in_overlay_ok(upper, &["getent", "passwd", "smo"]);
}

/// `dist/smo.toml` (installed as /etc/smo/smo.toml) writes every key it documents at its
/// default as `#key = value` (no space after `#`): with those lines uncommented it must parse,
/// pass validation and equal the defaults, so it cannot drift from the code.
#[test]
fn the_shipped_smo_toml_states_the_defaults() {
    let text = std::fs::read_to_string(repo_root().join("dist/smo.toml")).unwrap();
    let uncommented: String = text
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let keys = uncommented
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter(|l| l.split('#').next().is_some_and(|code| code.contains(" = ")))
        .count();
    assert!(keys > 45, "{keys} keys");
    let parsed = smo_host::config::Config::from_toml(&uncommented)
        .unwrap_or_else(|e| panic!("dist/smo.toml uncommented: {e}"));
    parsed.validate().expect("valid");
    assert_eq!(parsed, smo_host::config::Config::default());
    // As shipped, every key is a comment.
    assert_eq!(
        smo_host::config::Config::from_toml(&text).expect("parses"),
        smo_host::config::Config::default()
    );
}

/// A copy of `scenarios/eu-5dc-24h.yaml` and `scenarios/data/` that every user can read.
fn readable_scenarios() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    fn copy(from: &Path, to: &Path) {
        if from.is_dir() {
            std::fs::create_dir_all(to).expect("mkdir");
            std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).expect("chmod");
            for entry in std::fs::read_dir(from).expect("read_dir") {
                let entry = entry.expect("entry");
                copy(&entry.path(), &to.join(entry.file_name()));
            }
        } else {
            std::fs::copy(from, to).expect("copy");
            std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
    }
    let dir = tempfile::Builder::new()
        .prefix("smo-scenarios")
        .tempdir_in("/tmp")
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    copy(
        &scenarios.join("eu-5dc-24h.yaml"),
        &dir.path().join("eu-5dc-24h.yaml"),
    );
    copy(&scenarios.join("data"), &dir.path().join("data"));
    dir
}
