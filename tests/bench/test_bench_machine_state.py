"""bench/machine_state.py: the share of CPU time stolen by the hypervisor, from /proc/stat."""

from pathlib import Path

from bench import machine_state


def _write_stat(path: Path, user: int, idle: int, steal: int) -> None:
    # cpu user nice system idle iowait irq softirq steal guest guest_nice
    path.write_text(f"cpu  {user} 0 0 {idle} 0 0 0 {steal} 0 0\ncpu0 1 0 0 1 0 0 0 0 0 0\n")


def test_steal_fraction_is_stolen_over_total_time_since_start(tmp_path, monkeypatch):
    monkeypatch.setattr(machine_state, "PROC_STAT", tmp_path / "stat")
    _write_stat(machine_state.PROC_STAT, user=100, idle=100, steal=0)
    meter = machine_state.StealMeter()
    _write_stat(machine_state.PROC_STAT, user=160, idle=120, steal=20)  # +100 jiffies, 20 stolen
    assert meter.fraction() == 0.2


def test_steal_fraction_is_none_when_unknown(tmp_path, monkeypatch):
    monkeypatch.setattr(machine_state, "PROC_STAT", tmp_path / "missing")
    assert machine_state.cpu_jiffies() is None
    assert machine_state.StealMeter().fraction() is None
    monkeypatch.setattr(machine_state, "PROC_STAT", tmp_path / "stat")
    _write_stat(machine_state.PROC_STAT, user=1, idle=1, steal=0)
    assert machine_state.StealMeter().fraction() is None  # no time passed


def test_reference_loop_reports_seconds():
    seconds = machine_state.reference_loop_seconds(additions=1000)
    assert isinstance(seconds, float) and seconds >= 0.0
