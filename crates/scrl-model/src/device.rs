//! Choosing the compute device by name (`--device cpu|cuda|cuda:N`), with one clear sentence when
//! the GPU cannot be used: a CPU build says it lacks the `cuda` feature; a CUDA build says which
//! library or device is missing, and that `--device cpu` works.

use candle_core::Device;

use crate::error::{ModelError, Result};

/// Parses `cpu`, `cuda` (= `cuda:0`) or `cuda:N` into a device, opening the GPU for the CUDA ones.
pub fn parse_device(name: &str) -> Result<Device> {
    let ordinal = match name {
        "cpu" => return Ok(Device::Cpu),
        "cuda" => 0,
        n => match n.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(i)) => i,
            _ => {
                return Err(ModelError::Device(format!(
                    "unknown device `{name}`: use cpu, cuda or cuda:N"
                )));
            }
        },
    };
    open_cuda(name, ordinal)
}

/// Bytes of GPU memory in use on `device`'s GPU (all processes, from the driver's cuMemGetInfo);
/// `None` for the CPU or when the driver cannot tell.
pub fn gpu_memory_used(device: &Device) -> Option<u64> {
    #[cfg(feature = "cuda")]
    if let Device::Cuda(d) = device {
        let (free, total) = d.cuda_stream().context().mem_get_info().ok()?;
        return Some((total - free) as u64);
    }
    let _ = device;
    None
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(name: &str, _ordinal: usize) -> Result<Device> {
    Err(ModelError::Device(format!(
        "device `{name}`: this securecoderl was built without the `cuda` feature; build it with \
         `scripts/cuda-build` (or `cargo build --release --features cuda`), or use --device cpu"
    )))
}

#[cfg(feature = "cuda")]
fn open_cuda(name: &str, ordinal: usize) -> Result<Device> {
    Device::new_cuda(ordinal).map_err(|e| ModelError::Device(cuda_failure(name, ordinal, &e)))
}

/// The driver's result code inside a candle error, if the error came from the CUDA driver.
#[cfg(feature = "cuda")]
fn driver_code(e: &candle_core::Error) -> Option<u32> {
    use candle_core::Error;
    use candle_core::cuda_backend::CudaError;
    match e {
        Error::Cuda(inner) => match inner.downcast_ref::<CudaError>() {
            Some(CudaError::Cuda(d)) | Some(CudaError::Load { cuda: d, .. }) => Some(d.0 as u32),
            _ => inner
                .downcast_ref::<candle_core::cuda_backend::cudarc::driver::DriverError>()
                .map(|d| d.0 as u32),
        },
        Error::WithBacktrace { inner, .. } | Error::Context { inner, .. } => driver_code(inner),
        _ => None,
    }
}

#[cfg(feature = "cuda")]
fn cuda_failure(name: &str, ordinal: usize, e: &candle_core::Error) -> String {
    let cpu = "--device cpu runs on the CPU";
    // CUresult codes from cuda.h.
    match driver_code(e) {
        Some(34) => format!(
            "device `{name}`: the libcuda.so.1 this process loaded is a link-only stub (from \
             scripts/cuda-build), not the NVIDIA driver, so there is no usable GPU; put the \
             driver's libcuda.so.1 on LD_LIBRARY_PATH instead of the stub, or use --device cpu"
        ),
        Some(100) => format!(
            "device `{name}`: the NVIDIA driver is loaded but sees no GPU (CUDA_ERROR_NO_DEVICE; \
             check CUDA_VISIBLE_DEVICES and /dev/nvidia*); {cpu}"
        ),
        Some(101) => {
            let count = candle_core::cuda_backend::cudarc::driver::CudaContext::device_count()
                .map_or("an unknown number of".to_string(), |n| n.to_string());
            format!(
                "device `{name}`: there is no GPU {ordinal}, the driver sees {count} GPU(s) \
                 (CUDA_ERROR_INVALID_DEVICE); pick one of them or use --device cpu"
            )
        }
        Some(35) | Some(803) | Some(804) => format!(
            "device `{name}`: the NVIDIA driver is too old for this CUDA 13.0 build (CUresult {}); \
             {cpu}",
            driver_code(e).unwrap_or_default()
        ),
        Some(code) => format!(
            "device `{name}`: the CUDA driver could not open GPU {ordinal} (CUresult {code}: {e}); \
             {cpu}"
        ),
        None => format!("device `{name}`: CUDA could not start on GPU {ordinal} ({e}); {cpu}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_and_bad_names() {
        assert!(matches!(parse_device("cpu").unwrap(), Device::Cpu));
        for bad in ["gpu", "cuda:", "cuda:x", "CPU", "cuda:-1"] {
            let e = parse_device(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("unknown device `{bad}`")), "{e}");
        }
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_cpu_build_says_it_lacks_the_cuda_feature() {
        for name in ["cuda", "cuda:1"] {
            let e = parse_device(name).unwrap_err().to_string();
            assert!(e.contains("built without the `cuda` feature"), "{e}");
            assert!(e.contains("--device cpu"), "{e}");
        }
    }
}
