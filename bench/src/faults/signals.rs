//! Signals to the server and the fake WeChat, and waiting for the server to exit.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::bail;

pub fn signal(pid: u32, name: &str) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .status()?;
    if !status.success() {
        bail!("kill -{name} {pid} failed");
    }
    Ok(())
}

pub fn wait_for_exit(child: &mut Child, within: Duration) -> anyhow::Result<Option<i32>> {
    let started = Instant::now();
    while started.elapsed() < within {
        if let Some(status) = child.try_wait()? {
            return Ok(status.code());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "the server did not stop within {} s of SIGTERM",
        within.as_secs()
    )
}
