use super::*;

/// Serializes the tests that use the process's remembered failure ([`FIRST`]).
static FIRST_LOCK: Mutex<()> = Mutex::new(());

/// The text of the panic the issue reported (`into_scalar` after a refused 169 MB upload on
/// lavapipe), as `expect` formats Burn's `TensorReadError` with CubeCL's `IoError` inside.
const REFUSED_UPLOAD: &str = "Error while reading data: use `try_into_scalar` instead to catch the error at runtime: Execution(WithContext { reason: \"An error happened during execution\\nCaused by:\\n  can't allocate buffer of size: 169344000\\n   0: cubecl_runtime::memory_management::...\" })";

#[test]
fn a_refused_buffer_names_its_size_the_limit_and_the_fix() {
    record_adapter(
        "llvmpipe (LLVM 15.0.7, 256 bits) [Vulkan, Cpu]",
        134_217_728,
    );
    let failure = classify(REFUSED_UPLOAD).expect("a GPU failure");
    assert_eq!(
        failure.kind,
        FailureKind::BufferTooBig { size: 169_344_000 }
    );
    let line = failure.to_string();
    assert!(!line.contains('\n'), "{line}");
    for part in [
        "161.5 MiB (169344000 bytes)",
        "llvmpipe",
        "largest buffer is 128.0 MiB",
        "--batch-size",
        "--device cpu",
    ] {
        assert!(line.contains(part), "{part:?} missing from: {line}");
    }
}

#[test]
fn out_of_memory_lost_devices_and_failed_reads_are_gpu_failures() {
    let oom = classify("An error happened during execution\nCaused by:\n  out of device memory allocating 4096 bytes\n  0: backtrace").unwrap();
    assert_eq!(oom.kind, FailureKind::OutOfMemory { size: 4096 });
    let debug_form =
        classify("Execution(Generic { reason: \"x\", .. OutOfMemory { size: 77, backtrace })")
            .unwrap();
    assert_eq!(debug_form.kind, FailureKind::OutOfMemory { size: 77 });

    let lost =
        classify("The device is poisoned\nCaused by:\n  illegal memory access\n  more").unwrap();
    assert_eq!(
        lost.kind,
        FailureKind::DeviceLost {
            reason: "illegal memory access".into()
        }
    );
    assert!(lost.to_string().contains("--resume latest"), "{lost}");

    let read = classify("Error while reading data: use `try_into_data` instead to catch the error at runtime: kernel launch failed").unwrap();
    assert!(
        matches!(read.kind, FailureKind::Execution { .. }),
        "{read:?}"
    );
}

#[test]
fn other_panics_are_not_gpu_failures() {
    for message in [
        "index out of bounds: the len is 3 but the index is 7",
        "called `Option::unwrap()` on a `None` value",
        "",
    ] {
        assert_eq!(classify(message), None, "{message}");
    }
}

#[test]
fn catch_turns_a_gpu_panic_into_an_error_and_lets_others_unwind() {
    let _first = FIRST_LOCK.lock().unwrap();
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let gpu = catch(|| -> anyhow::Result<()> { panic!("{REFUSED_UPLOAD}") });
    let other = std::panic::catch_unwind(|| catch(|| -> anyhow::Result<()> { panic!("a bug") }));
    std::panic::set_hook(hook);
    let error = gpu.expect_err("an error");
    assert!(error.downcast_ref::<GpuFailure>().is_some(), "{error:#}");
    assert!(other.is_err(), "a bug keeps unwinding");
    assert_eq!(catch(|| Ok(3)).unwrap(), 3);
}

/// What lavapipe printed for LeNet at full batch on 8,100 images: a kernel launch refused
/// before the buffer was.
#[test]
fn a_refused_launch_is_a_gpu_failure_and_the_allocation_wins() {
    let _first = FIRST_LOCK.lock().unwrap();
    let launch = classify("Should run when selected by autotune.: matmul_naive: An unknown error happened. Unable to launch matmul because a required feature is unavailable: Cube count too big (101250, 19, 1)").unwrap();
    assert!(
        matches!(launch.kind, FailureKind::Execution { .. }),
        "{launch:?}"
    );
    assert!(
        launch.to_string().contains("Cube count too big"),
        "{launch}"
    );
    remember(launch);
    remember(classify(REFUSED_UPLOAD).unwrap());
    let kept = FIRST.lock().unwrap().take().unwrap();
    assert_eq!(kept.kind, FailureKind::BufferTooBig { size: 169_344_000 });
}
