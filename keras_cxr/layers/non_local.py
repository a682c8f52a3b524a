"""Non-local block, embedded-Gaussian form (Wang et al., CVPR 2018).

Every position attends to every other: softmax(theta(x) phi(x)^T) g(x), projected
back by W and added to the input. W is followed by a BatchNorm whose scale starts
at zero, so the block is the identity at initialisation and can be inserted into
a pretrained network (Chen et al. (improved ResNet50, CT) add it to ResNet-50's
last residual blocks of conv3-conv5).
"""

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="keras_cxr")
class NonLocal(layers.Layer):
    """Spatial self-attention; output shape equals input shape.

    Args:
        inter_ratio: width of theta/phi/g relative to the input channels (1/2).
        sub_sample: 2x2 max-pool keys and values (the paper's sub-sampling
            trick, 4x less memory: the attention matrix is HW x HW/4).
        scaled: divide the logits by sqrt(inter channels) for stable training.
    """

    def __init__(self, inter_ratio=0.5, sub_sample=True, scaled=True, **kwargs):
        super().__init__(**kwargs)
        self.inter_ratio = float(inter_ratio)
        self.sub_sample = bool(sub_sample)
        self.scaled = bool(scaled)

    def _inter(self, channels):
        return max(int(channels * self.inter_ratio), 1)

    def build(self, input_shape):
        channels = int(input_shape[-1])
        inter = self._inter(channels)
        dt = self.dtype_policy
        self.theta = layers.Dense(inter, name="theta", dtype=dt)
        self.phi = layers.Dense(inter, name="phi", dtype=dt)
        self.g = layers.Dense(inter, name="g", dtype=dt)
        self.project = layers.Dense(channels, name="project", dtype=dt)
        self.norm = layers.BatchNormalization(gamma_initializer="zeros", name="norm", dtype=dt)
        self.pool = layers.MaxPooling2D(2, padding="same", name="pool", dtype=dt)
        for dense in (self.theta, self.phi, self.g):
            dense.build((None, None, None, channels))
        self.project.build((None, None, None, inter))
        self.norm.build((None, None, None, channels))
        self.built = True

    def call(self, inputs, training=None):
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        theta = self.theta(inputs)
        phi = self.phi(inputs)
        g = self.g(inputs)
        if self.sub_sample:
            phi = self.pool(phi)
            g = self.pool(g)
        inter = ops.shape(theta)[-1]
        theta = ops.reshape(theta, (batch, -1, inter))
        phi = ops.reshape(phi, (batch, -1, inter))
        g = ops.reshape(g, (batch, -1, inter))
        logits = ops.matmul(theta, ops.transpose(phi, (0, 2, 1)))
        if self.scaled:
            logits = logits / ops.sqrt(ops.cast(inter, logits.dtype))
        attended = ops.matmul(ops.softmax(logits, axis=-1), g)
        attended = ops.reshape(attended, (batch, height, width, inter))
        return inputs + self.norm(self.project(attended), training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_macs(self, input_shape):
        h, w, c = (int(d) for d in input_shape[-3:])
        inter = self._inter(c)
        n = h * w
        m = ((h + 1) // 2) * ((w + 1) // 2) if self.sub_sample else n
        projections = 3 * n * c * inter + n * inter * c
        attention = 2 * n * m * inter
        return projections + attention

    def get_config(self):
        config = super().get_config()
        config.update(inter_ratio=self.inter_ratio, sub_sample=self.sub_sample, scaled=self.scaled)
        return config
