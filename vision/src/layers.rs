//! The three convolutions EfficientNet-Lite needs, each with its batch norm
//! folded in, on channel-major feature maps.

use crate::safetensors::{BatchNorm, LoadError, Tensor};

/// TensorFlow's batch norm epsilon, which the weights were trained with.
const EPSILON: f32 = 1e-3;

/// Channels × height × width, channel-major.
#[derive(Clone)]
pub(crate) struct Map {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    pub data: Vec<f32>,
}

impl Map {
    pub fn zeros(channels: usize, height: usize, width: usize) -> Map {
        Map {
            channels,
            height,
            width,
            data: vec![0.0; channels * height * width],
        }
    }

    fn plane(&self) -> usize {
        self.height * self.width
    }

    /// The global average pool.
    pub fn channel_means(&self) -> Vec<f32> {
        let plane = self.plane();
        self.data
            .chunks_exact(plane)
            .map(|c| c.iter().sum::<f32>() / plane as f32)
            .collect()
    }
}

/// TensorFlow's "same" padding along one axis: the output size and how many
/// zeros go before the input (the odd one goes after).
fn same_padding(size: usize, kernel: usize, stride: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = ((out - 1) * stride + kernel).saturating_sub(size);
    (out, total / 2)
}

/// Scales each output channel's weights by γ/σ and returns the shifted bias.
fn fold(weights: &mut [f32], per_channel: usize, norm: &BatchNorm) -> Vec<f32> {
    let mut bias = Vec::with_capacity(norm.weight.len());
    for (c, chunk) in weights.chunks_exact_mut(per_channel).enumerate() {
        let scale = norm.weight[c] / (norm.variance[c] + EPSILON).sqrt();
        chunk.iter_mut().for_each(|w| *w *= scale);
        bias.push(norm.bias[c] - norm.mean[c] * scale);
    }
    bias
}

fn relu6(x: f32) -> f32 {
    x.clamp(0.0, 6.0)
}

/// A full convolution (the stem), followed by ReLU6.
pub(crate) struct Conv {
    weights: Vec<f32>,
    bias: Vec<f32>,
    outputs: usize,
    inputs: usize,
    kernel: usize,
    stride: usize,
}

impl Conv {
    pub fn new(weight: Tensor, norm: BatchNorm, stride: usize) -> Result<Conv, LoadError> {
        let [outputs, inputs, kh, kw] = weight.shape[..] else {
            unreachable!("rank checked")
        };
        if kh != kw || norm.weight.len() != outputs {
            return Err(LoadError::Shape("the stem convolution".into()));
        }
        let mut weights = weight.data;
        let bias = fold(&mut weights, inputs * kh * kw, &norm);
        Ok(Conv {
            weights,
            bias,
            outputs,
            inputs,
            kernel: kh,
            stride,
        })
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    pub fn forward(&self, x: &Map) -> Map {
        assert_eq!(x.channels, self.inputs);
        let k = self.kernel;
        let (oh, top) = same_padding(x.height, k, self.stride);
        let (ow, left) = same_padding(x.width, k, self.stride);
        let mut out = Map::zeros(self.outputs, oh, ow);
        let plane = x.plane();
        for o in 0..self.outputs {
            let w = &self.weights[o * self.inputs * k * k..(o + 1) * self.inputs * k * k];
            let dst = &mut out.data[o * oh * ow..(o + 1) * oh * ow];
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut sum = self.bias[o];
                    for i in 0..self.inputs {
                        let src = &x.data[i * plane..(i + 1) * plane];
                        for ky in 0..k {
                            let Some(y) = (oy * self.stride + ky)
                                .checked_sub(top)
                                .filter(|&y| y < x.height)
                            else {
                                continue;
                            };
                            for kx in 0..k {
                                let Some(xx) = (ox * self.stride + kx)
                                    .checked_sub(left)
                                    .filter(|&xx| xx < x.width)
                                else {
                                    continue;
                                };
                                sum += w[(i * k + ky) * k + kx] * src[y * x.width + xx];
                            }
                        }
                    }
                    dst[oy * ow + ox] = relu6(sum);
                }
            }
        }
        out
    }
}

/// One filter per channel, followed by ReLU6.
pub(crate) struct Depthwise {
    weights: Vec<f32>,
    bias: Vec<f32>,
    channels: usize,
    kernel: usize,
    stride: usize,
}

impl Depthwise {
    pub fn new(weight: Tensor, norm: BatchNorm, stride: usize) -> Result<Depthwise, LoadError> {
        let [channels, one, kh, kw] = weight.shape[..] else {
            unreachable!("rank checked")
        };
        if one != 1 || kh != kw || norm.weight.len() != channels {
            return Err(LoadError::Shape("a depthwise convolution".into()));
        }
        let mut weights = weight.data;
        let bias = fold(&mut weights, kh * kw, &norm);
        Ok(Depthwise {
            weights,
            bias,
            channels,
            kernel: kh,
            stride,
        })
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    pub fn forward(&self, x: &Map) -> Map {
        assert_eq!(x.channels, self.channels);
        let (k, s) = (self.kernel, self.stride);
        let (oh, top) = same_padding(x.height, k, s);
        let (ow, left) = same_padding(x.width, k, s);
        let mut out = Map::zeros(self.channels, oh, ow);
        let plane = x.plane();
        for c in 0..self.channels {
            let w = &self.weights[c * k * k..(c + 1) * k * k];
            let src = &x.data[c * plane..(c + 1) * plane];
            let dst = &mut out.data[c * oh * ow..(c + 1) * oh * ow];
            dst.fill(self.bias[c]);
            // Tap by tap over whole rows: the inner loop runs along a row of
            // the output with a fixed weight, which vectorizes at stride 1.
            for ky in 0..k {
                for kx in 0..k {
                    let weight = w[ky * k + kx];
                    // Output columns whose input column lands inside the row.
                    let first = left.saturating_sub(kx).div_ceil(s);
                    let Some(span) = (x.width + left).checked_sub(kx + 1) else {
                        continue;
                    };
                    let last = (span / s + 1).min(ow);
                    if first >= last {
                        continue;
                    }
                    for oy in 0..oh {
                        let Some(y) = (oy * s + ky).checked_sub(top).filter(|&y| y < x.height)
                        else {
                            continue;
                        };
                        let row = &src[y * x.width..(y + 1) * x.width];
                        let out_row = &mut dst[oy * ow + first..oy * ow + last];
                        let start = first * s + kx - left;
                        if s == 1 {
                            for (o, i) in out_row.iter_mut().zip(&row[start..]) {
                                *o += weight * i;
                            }
                        } else {
                            for (o, i) in out_row.iter_mut().zip(row[start..].iter().step_by(s)) {
                                *o += weight * i;
                            }
                        }
                    }
                }
            }
            dst.iter_mut().for_each(|v| *v = relu6(*v));
        }
        out
    }
}

/// A 1×1 convolution: a matrix product across channels, followed by ReLU6
/// when it expands (projections are linear).
pub(crate) struct Pointwise {
    weights: Vec<f32>,
    bias: Vec<f32>,
    outputs: usize,
    inputs: usize,
    activate: bool,
}

/// Pixels processed together, so a tile of every input channel stays in
/// cache while all the output channels are summed from it.
const TILE: usize = 256;

impl Pointwise {
    pub fn new(weight: Tensor, norm: BatchNorm, activate: bool) -> Result<Pointwise, LoadError> {
        let [outputs, inputs, 1, 1] = weight.shape[..] else {
            return Err(LoadError::Shape(
                "a pointwise convolution that is not 1×1".into(),
            ));
        };
        if norm.weight.len() != outputs {
            return Err(LoadError::Shape(
                "a pointwise convolution's batch norm".into(),
            ));
        }
        let mut weights = weight.data;
        let bias = fold(&mut weights, inputs, &norm);
        Ok(Pointwise {
            weights,
            bias,
            outputs,
            inputs,
            activate,
        })
    }

    pub fn inputs(&self) -> usize {
        self.inputs
    }

    pub fn outputs(&self) -> usize {
        self.outputs
    }

    pub fn forward(&self, x: &Map) -> Map {
        assert_eq!(x.channels, self.inputs);
        let plane = x.plane();
        let mut out = Map::zeros(self.outputs, x.height, x.width);
        let mut acc = [0f32; TILE];
        for start in (0..plane).step_by(TILE) {
            let len = TILE.min(plane - start);
            for o in 0..self.outputs {
                let acc = &mut acc[..len];
                acc.fill(self.bias[o]);
                let w = &self.weights[o * self.inputs..(o + 1) * self.inputs];
                for (i, &weight) in w.iter().enumerate() {
                    let src = &x.data[i * plane + start..i * plane + start + len];
                    for (a, v) in acc.iter_mut().zip(src) {
                        *a += weight * v;
                    }
                }
                let dst = &mut out.data[o * plane + start..o * plane + start + len];
                if self.activate {
                    for (d, a) in dst.iter_mut().zip(acc.iter()) {
                        *d = relu6(*a);
                    }
                } else {
                    dst.copy_from_slice(acc);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity_norm(channels: usize) -> BatchNorm {
        BatchNorm {
            weight: vec![1.0; channels],
            bias: vec![0.0; channels],
            mean: vec![0.0; channels],
            variance: vec![1.0 - EPSILON; channels],
        }
    }

    /// The textbook definition, for comparing the fast paths against.
    fn naive_depthwise(x: &Map, w: &[f32], k: usize, s: usize) -> Map {
        let (oh, top) = same_padding(x.height, k, s);
        let (ow, left) = same_padding(x.width, k, s);
        let mut out = Map::zeros(x.channels, oh, ow);
        for c in 0..x.channels {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut sum = 0.0;
                    for ky in 0..k {
                        for kx in 0..k {
                            let y = (oy * s + ky) as isize - top as isize;
                            let xx = (ox * s + kx) as isize - left as isize;
                            if y >= 0
                                && xx >= 0
                                && (y as usize) < x.height
                                && (xx as usize) < x.width
                            {
                                sum += w[c * k * k + ky * k + kx]
                                    * x.data[c * x.height * x.width
                                        + y as usize * x.width
                                        + xx as usize];
                            }
                        }
                    }
                    out.data[c * oh * ow + oy * ow + ox] = relu6(sum);
                }
            }
        }
        out
    }

    fn sample(channels: usize, height: usize, width: usize) -> Map {
        let mut map = Map::zeros(channels, height, width);
        for (i, v) in map.data.iter_mut().enumerate() {
            *v = ((i * 7919 % 97) as f32 - 48.0) / 40.0;
        }
        map
    }

    #[test]
    fn same_padding_matches_tensorflow() {
        assert_eq!(same_padding(224, 3, 2), (112, 0));
        assert_eq!(same_padding(225, 3, 2), (113, 1));
        assert_eq!(same_padding(14, 5, 1), (14, 2));
        assert_eq!(same_padding(28, 5, 2), (14, 1));
    }

    #[test]
    fn depthwise_matches_the_definition_at_both_strides_and_odd_sizes() {
        for (k, s, h, w) in [
            (3, 1, 7, 9),
            (3, 2, 8, 11),
            (5, 2, 9, 6),
            (5, 1, 5, 5),
            (5, 2, 3, 2),
        ] {
            let x = sample(3, h, w);
            let weights: Vec<f32> = (0..3 * k * k)
                .map(|i| ((i * 31 % 17) as f32 - 8.0) / 8.0)
                .collect();
            let layer = Depthwise::new(
                Tensor {
                    shape: vec![3, 1, k, k],
                    data: weights.clone(),
                },
                identity_norm(3),
                s,
            )
            .unwrap();
            let fast = layer.forward(&x);
            let slow = naive_depthwise(&x, &weights, k, s);
            assert_eq!((fast.height, fast.width), (slow.height, slow.width));
            for (a, b) in fast.data.iter().zip(&slow.data) {
                assert!((a - b).abs() < 1e-4, "k={k} s={s} {h}×{w}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn pointwise_is_a_matrix_product_across_tiles() {
        // More pixels than one tile, so the tile edges are exercised.
        let x = sample(4, 20, 30);
        let weights: Vec<f32> = (0..3 * 4).map(|i| i as f32 / 10.0 - 0.5).collect();
        let layer = Pointwise::new(
            Tensor {
                shape: vec![3, 4, 1, 1],
                data: weights.clone(),
            },
            identity_norm(3),
            false,
        )
        .unwrap();
        let out = layer.forward(&x);
        let plane = 600;
        for o in 0..3 {
            for p in [0, 255, 256, 599] {
                let expected: f32 = (0..4)
                    .map(|i| weights[o * 4 + i] * x.data[i * plane + p])
                    .sum();
                assert!((out.data[o * plane + p] - expected).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn batch_norm_folds_into_the_weights() {
        let norm = BatchNorm {
            weight: vec![2.0],
            bias: vec![1.0],
            mean: vec![0.5],
            variance: vec![4.0 - EPSILON],
        };
        let layer = Pointwise::new(
            Tensor {
                shape: vec![1, 1, 1, 1],
                data: vec![3.0],
            },
            norm,
            false,
        )
        .unwrap();
        let mut x = Map::zeros(1, 1, 1);
        x.data[0] = 2.0;
        // (3·2 − 0.5) · 2/2 + 1
        assert!((layer.forward(&x).data[0] - 6.5).abs() < 1e-5);
    }
}
