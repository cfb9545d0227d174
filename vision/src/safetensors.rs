//! Reading a safetensors file: an 8-byte little-endian header length, a JSON
//! header naming each tensor's dtype, shape and byte range, then the bytes.

use std::collections::HashMap;
use std::path::Path;

/// Why the weights could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("could not read the model weights {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the model weights are not a safetensors file: {0}")]
    Format(String),
    #[error("the model weights lack {0}")]
    Missing(String),
    #[error("the model weights have an unexpected shape: {0}")]
    Shape(String),
}

pub(crate) struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// The four vectors of a batch norm layer.
pub(crate) struct BatchNorm {
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    pub mean: Vec<f32>,
    pub variance: Vec<f32>,
}

pub(crate) struct File {
    tensors: HashMap<String, Tensor>,
}

impl File {
    pub fn read(path: &Path) -> Result<File, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        File::parse(&bytes)
    }

    pub fn parse(bytes: &[u8]) -> Result<File, LoadError> {
        let format = |m: &str| LoadError::Format(m.to_string());
        let length = bytes
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("eight bytes")))
            .ok_or_else(|| format("shorter than its header length"))?;
        let header_end = usize::try_from(length)
            .ok()
            .and_then(|l| l.checked_add(8))
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| format("header runs past the end"))?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes[8..header_end]).map_err(|e| format(&e.to_string()))?;
        let data = &bytes[header_end..];
        let mut tensors = HashMap::new();
        for (name, entry) in header {
            if name == "__metadata__" {
                continue;
            }
            let dtype = entry.get("dtype").and_then(|d| d.as_str());
            if dtype != Some("F32") {
                return Err(format(&format!("{name} is {dtype:?}, not F32")));
            }
            let numbers = |key: &str| -> Option<Vec<usize>> {
                entry
                    .get(key)?
                    .as_array()?
                    .iter()
                    .map(|v| v.as_u64().and_then(|n| usize::try_from(n).ok()))
                    .collect()
            };
            let shape = numbers("shape").ok_or_else(|| format(&format!("{name} has no shape")))?;
            let range = numbers("data_offsets")
                .filter(|r| r.len() == 2 && r[0] <= r[1] && r[1] <= data.len())
                .ok_or_else(|| format(&format!("{name} has bad data offsets")))?;
            let count: usize = shape.iter().product();
            if range[1] - range[0] != count * 4 {
                return Err(format(&format!(
                    "{name}: {} bytes for {count} floats",
                    range[1] - range[0]
                )));
            }
            let data = data[range[0]..range[1]]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("four bytes")))
                .collect();
            tensors.insert(name, Tensor { shape, data });
        }
        Ok(File { tensors })
    }

    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    /// The tensor called `name`, which must have `rank` dimensions.
    pub fn tensor(&self, name: &str, rank: usize) -> Result<Tensor, LoadError> {
        let tensor = self
            .tensors
            .get(name)
            .ok_or_else(|| LoadError::Missing(name.to_string()))?;
        if tensor.shape.len() != rank {
            return Err(LoadError::Shape(format!(
                "{name} has {} dimensions, not {rank}",
                tensor.shape.len()
            )));
        }
        Ok(Tensor {
            shape: tensor.shape.clone(),
            data: tensor.data.clone(),
        })
    }

    pub fn batch_norm(&self, prefix: &str) -> Result<BatchNorm, LoadError> {
        let vector = |part: &str| self.tensor(&format!("{prefix}.{part}"), 1).map(|t| t.data);
        let norm = BatchNorm {
            weight: vector("weight")?,
            bias: vector("bias")?,
            mean: vector("running_mean")?,
            variance: vector("running_var")?,
        };
        let n = norm.weight.len();
        if [norm.bias.len(), norm.mean.len(), norm.variance.len()]
            .iter()
            .any(|&l| l != n)
        {
            return Err(LoadError::Shape(format!(
                "{prefix}: vectors of different lengths"
            )));
        }
        Ok(norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn reads_a_tensor() {
        let data: Vec<u8> = [1.5f32, -2.0]
            .iter()
            .flat_map(|f| f.to_le_bytes())
            .collect();
        let parsed = File::parse(&file(
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            &data,
        ))
        .unwrap();
        assert_eq!(parsed.tensor("a", 1).unwrap().data, vec![1.5, -2.0]);
        assert!(matches!(parsed.tensor("a", 2), Err(LoadError::Shape(_))));
        assert!(matches!(parsed.tensor("b", 1), Err(LoadError::Missing(_))));
    }

    #[test]
    fn refuses_broken_files() {
        assert!(matches!(File::parse(b"abc"), Err(LoadError::Format(_))));
        assert!(matches!(File::parse(&[255; 16]), Err(LoadError::Format(_))));
        let short = file(
            r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
            &[0; 8],
        );
        assert!(matches!(File::parse(&short), Err(LoadError::Format(_))));
        let past_end = file(
            r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
            &[0; 4],
        );
        assert!(matches!(File::parse(&past_end), Err(LoadError::Format(_))));
        let half = file(
            r#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#,
            &[0; 4],
        );
        assert!(matches!(File::parse(&half), Err(LoadError::Format(_))));
    }
}
