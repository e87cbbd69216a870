"""Attention-driven cropping for high-resolution facial landmarks (Chandran et al., CVPR 2020),
and the holistic baseline it is compared with.

``ADCLandmarks`` takes a face image at *any* resolution:

1. a global network sees the face resized to ``global_size`` and predicts coarse heatmaps,
   turned into coarse points by a soft-argmax (differentiable);
2. attention: one region per landmark, centred on its coarse point, whose side is a fixed
   fraction ``region_fraction`` of the image side, i.e. tied to the face's size in
   original pixels;
3. ``SpatialCrop`` samples every region at ``crop_size`` pixels straight from the
   full-resolution input, so the work after step 1 does not grow with the resolution;
4. a regional network (shared by all landmarks) predicts a heatmap per landmark in its
   crop; its soft-argmax refines the coarse point. With ``refine_passes=N`` this runs N
   times, each pass on crops re-centred on the previous points, and the N estimates are
   averaged;
5. with ``shape_correction=True``, a last linear stage on the whole shape
   (:class:`~facezoo.layers.ShapeCorrection`, fitted in closed form on the training faces'
   predictions) removes the networks' systematic error (both models take it).

Outputs are landmarks ``(B, K, 2)`` in the input image's pixels (x, y; pixel centres at
integers). In training (``model(x, training=True)``) a dict of the coarse and refined
points in normalised ``[-1, 1]`` coordinates (the last stage's through the shape correction, if
the model has one) and the heatmaps is returned; the model's
own :meth:`compute_loss` (:func:`landmark_loss`) sums the mean L1 errors of both stages
(``point_loss="wing"``: the Wing loss of them; with ``along_contour_weight`` < 1, error along
each point's contour weighed less than across it) and a small cross-entropy of the heatmaps to
Gaussians around the targets (landmarks given in pixels).

Example:
    >>> model = ADCLandmarks()                              # 68 points
    >>> model.compile(optimizer="adam")
    >>> model.fit(faces_512, points_in_pixels, epochs=10)   # faces (B, H, W, 3) in [0, 1]
    >>> points = model.predict(face_3000px[None])           # (1, 68, 2) in its pixels
"""

import keras
import numpy as np
from keras import layers, ops

from facezoo.classmaps import CONTOURS, MIRRORS
from facezoo.layers.shape_correction import ShapeCorrection
from facezoo.layers.soft_argmax import soft_argmax, to_float32_if_half
from facezoo.layers.spatial_crop import affine_sample, scale_translation_theta, unit_grid
from facezoo.losses import wing
from facezoo.models.base import FaceModel

#: ``point_loss="wing"``: the Wing loss's width and curvature in the loss's ``[-1, 1]`` coordinates,
#: 10 and 2 pixels of a 512-pixel training face (Feng et al.'s w = 10, epsilon = 2)
WING = (10 / 255.5, 2 / 255.5)
POINT_LOSSES = ("l1", "wing")


def heatmap_network(size, channels, points, name, strides, dilations, residual_blocks=0):
    """Convolutions (3x3, BN, ReLU) with the given strides and dilations, then
    ``residual_blocks`` residual blocks at the last width, then a 1x1 head with one heatmap
    per point. Global networks need a receptive field covering the whole input (to tell a
    left eye corner from a right one); regional ones stay local."""
    inputs = keras.Input((size, size, 3))
    x = inputs
    for index, (filters, stride, dilation) in enumerate(zip(channels, strides, dilations)):
        x = layers.Conv2D(filters, 3, strides=stride, dilation_rate=dilation, padding="same", use_bias=False,
                          name=f"{name}_{index}_conv")(x)
        x = layers.ReLU(name=f"{name}_{index}_relu")(layers.BatchNormalization(name=f"{name}_{index}_bn")(x))
    for block in range(residual_blocks):
        x = residual_block(x, f"{name}_res{block}")
    outputs = layers.Conv2D(points, 1, name=f"{name}_heatmaps")(x)
    return keras.Model(inputs, outputs, name=name)


def residual_block(x, name):
    """``relu(x + BN(conv(relu(BN(conv(x))))))``, 3x3 convolutions (the second dilated by 2
    for context). The last BN's scale starts at zero, so a new block is the identity on the
    (non-negative) input: a network deepened with blocks computes what it did before
    (``ADCLandmarks.copy_deepened_from``) and training grows them from there."""
    filters = x.shape[-1]
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_a_conv")(x)
    y = layers.ReLU(name=f"{name}_a_relu")(layers.BatchNormalization(name=f"{name}_a_bn")(y))
    y = layers.Conv2D(filters, 3, dilation_rate=2, padding="same", use_bias=False, name=f"{name}_b_conv")(y)
    y = layers.BatchNormalization(gamma_initializer="zeros", name=f"{name}_b_bn")(y)
    return layers.ReLU(name=f"{name}_relu")(layers.Add(name=f"{name}_add")([x, y]))


#: Global (and holistic) networks: /16, then dilated context; receptive field 479 pixels.
GLOBAL_STRIDES, GLOBAL_DILATIONS = (2, 2, 2, 2, 1, 1, 1), (1, 1, 1, 1, 2, 4, 8)
#: Regional network: /4, receptive field 27 of its 48-pixel crop.
REGIONAL_STRIDES, REGIONAL_DILATIONS = (2, 1, 2, 1), (1, 1, 1, 2)


def downsample(images, size):
    """Resize ``images`` to ``size x size`` without aliasing, with TFLite builtin ops: an
    average pool by the largest integer factor that stays above ``size`` (a box filter),
    then bilinear. (``antialias=True`` resizing becomes a non-builtin TFLite op.)"""
    height, width = images.shape[1], images.shape[2]
    if height is None or width is None:
        # Without them the box filter would be skipped (a different, aliased function) and
        # ADC's crops could not be placed. Compiled calls (predict_on_batch) relax to
        # (B, None, None, C) after a second input size.
        raise ValueError(
            f"landmark models need a static input height and width, got {tuple(images.shape)}: compile one "
            "function per input size (or bucket the sizes), not one for (None, None)")
    # The "valid" pool drops the last (side mod factor) rows/columns: at most factor - 1 pixels
    # of the far border, e.g. 0.4 % of a 3860-pixel face for the coarse stage; the regional
    # stage, which crops with exact coordinates (pooled_coordinates), refines from there.
    if height is not None and width is not None:
        factor = max(1, min(height, width) // size)
        if factor > 1:
            images = ops.average_pool(images, factor, strides=factor, padding="valid")
    return ops.image.resize(images, (size, size), interpolation="bilinear")


def pooled_coordinates(full, factor):
    """``(a, b)`` with ``u_pooled = a * u + b``: the ``[-1, 1]`` coordinate along an axis
    of ``full`` pixels, after a "valid" average pool by ``factor`` (pooled pixel ``i`` is
    centred on original pixel ``factor * i + (factor - 1) / 2``)."""
    small = full // factor
    a = (full - 1) / (factor * (small - 1))
    return a, ((full - 1) / 2 - (factor - 1) / 2) * 2 / (factor * (small - 1)) - 1


def mirror_indices(num_points, mirror=None):
    """Index ``i`` of a mirrored face is point ``mirror[i]`` of the original: by default the
    mirror of iBUG's 68 points or HELEN's 194 (:data:`facezoo.classmaps.MIRRORS`), else it
    must be given."""
    if mirror is not None:
        mirror = [int(i) for i in mirror]
        if sorted(mirror) != list(range(num_points)):
            raise ValueError(f"mirror must be a permutation of range({num_points})")
        return mirror
    if num_points not in MIRRORS:
        raise ValueError(f"flip_test with {num_points} points needs their mirror permutation (mirror=...)")
    return MIRRORS[num_points].tolist()


def flip_averaged(points_of, images, mirror):
    """Test-time flip: the mean of ``points_of(images)`` and the un-mirrored points of the
    horizontally flipped images (``[-1, 1]`` coordinates, where a flip is ``x -> -x``)."""
    points = points_of(images)
    flipped = ops.take(points_of(ops.flip(images, axis=2)), ops.convert_to_tensor(mirror, "int32"), axis=1)
    return (points + flipped * ops.convert_to_tensor([-1.0, 1.0])) / 2.0


def _normalised_to_pixels(points, height, width):
    scale = ops.stack([ops.cast(width - 1, "float32"), ops.cast(height - 1, "float32")]) / 2.0
    return (points + 1.0) * scale


def _pixels_to_normalised(points, height, width):
    scale = ops.stack([ops.cast(width - 1, "float32"), ops.cast(height - 1, "float32")]) / 2.0
    return points / scale - 1.0


#: Settings of both landmark models that shape no weight: a checkpoint fits with any of them.
INFERENCE_SETTINGS = ("flip_test", "mirror", "input_size")


def _without(config, keys):
    return {key: value for key, value in config.items() if key not in keys}


def _in_pixels(correction, points, height, width):
    """``points`` (``[-1, 1]``) in pixels, through a model's :class:`ShapeCorrection` if it has
    one. The correction works in pixels, where a similarity of the face is one in the points too."""
    pixels = _normalised_to_pixels(points, height, width)
    return pixels if correction is None else correction(pixels)


def _corrected(correction, points, height, width):
    """``points`` (``[-1, 1]``) through the correction, back in ``[-1, 1]`` (for the loss)."""
    if correction is None:
        return points
    return _pixels_to_normalised(_in_pixels(correction, points, height, width), height, width)


@keras.saving.register_keras_serializable(package="facezoo")
class HolisticLandmarks(FaceModel, keras.Model):
    """Baseline: the whole image resized to ``network_size``, heatmaps, soft-argmax.

    ``input_size`` is only the nominal face size (training, export, evaluation); any
    size is accepted."""

    TASK, OUTPUT = "landmarks", "points"

    def __init__(self, num_points=68, network_size=256, channels=(32, 48, 64, 80, 80, 80, 80), beta=10.0,
                 input_size=(512, 512), flip_test=False, mirror=None, shape_correction=False, **kwargs):
        super().__init__(**kwargs)
        self.num_points, self.network_size, self.channels, self.beta = num_points, network_size, tuple(channels), beta
        self.shape_correction = ShapeCorrection(num_points, name="shape_correction") if shape_correction else None
        self.input_size = tuple(input_size)
        self.flip_test, self.mirror = bool(flip_test), mirror
        self._mirror = mirror_indices(num_points, mirror) if flip_test else None
        self.network = heatmap_network(network_size, self.channels, num_points, "holistic", GLOBAL_STRIDES,
                                       GLOBAL_DILATIONS)

    def call(self, images, training=False):
        height, width = ops.shape(images)[1], ops.shape(images)[2]
        if training:
            heatmaps = self.network(downsample(images, self.network_size), training=True)
            points = _corrected(self.shape_correction, soft_argmax(heatmaps, self.beta), height, width)
            return {"coarse": points, "coarse_heatmaps": heatmaps}
        points_of = lambda x: soft_argmax(self.network(downsample(x, self.network_size)), self.beta)  # noqa: E731
        points = flip_averaged(points_of, images, self._mirror) if self.flip_test else points_of(images)
        return _in_pixels(self.shape_correction, points, height, width)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return landmark_loss(x, y, y_pred, self.beta)

    def weights_config(self):
        """Without the inference settings (flip average, nominal input size), which shape no weight."""
        return _without(super().weights_config(), INFERENCE_SETTINGS)

    def get_config(self):
        return {**super().get_config(), "num_points": self.num_points, "network_size": self.network_size,
                "channels": list(self.channels), "beta": self.beta, "input_size": list(self.input_size),
                "flip_test": self.flip_test, "mirror": self.mirror,
                **({"shape_correction": True} if self.shape_correction is not None else {})}


@keras.saving.register_keras_serializable(package="facezoo")
class ADCLandmarks(FaceModel, keras.Model):
    """Global coarse network + attention-driven crops from the full-resolution image."""

    TASK, OUTPUT = "landmarks", "points"

    def __init__(self, num_points=68, global_size=256, global_channels=(32, 48, 64, 80, 80, 80, 80), crop_size=48,
                 region_fraction=0.1, regional_channels=(32, 48, 64, 64), beta=10.0, input_size=(512, 512),
                 source_size=None, flip_test=False, mirror=None, refine_passes=1, global_blocks=0, regional_blocks=0,
                 shape_correction=False, along_contour_weight=1.0, point_loss="l1", **kwargs):
        super().__init__(**kwargs)
        # point_loss="wing": the points' loss is the Wing loss (WING) instead of L1, for a fine-tune
        if point_loss not in POINT_LOSSES:
            raise ValueError(f"point_loss must be one of {POINT_LOSSES}, got {point_loss!r}")
        self.point_loss = point_loss
        # along_contour_weight < 1: the loss weighs each point's error along its contour (the
        # known contours of its scheme, classmaps.CONTOURS) by this, across it by 1 (point_error;
        # HELEN's contour points slide along their lines). The small heatmap term still counts both.
        self.along_contour_weight = float(along_contour_weight)
        self._tangent_pairs = None
        if self.along_contour_weight != 1.0:
            if not 0.0 <= self.along_contour_weight <= 1.0 or num_points not in CONTOURS:
                raise ValueError(f"along_contour_weight must be in [0, 1] and the points a known scheme "
                                 f"({sorted(CONTOURS)} points); got {along_contour_weight} for {num_points} points")
            self._tangent_pairs = contour_neighbours(CONTOURS[num_points], num_points)
        # refine_passes=N: the regional stage runs N times, each time on crops re-centred on
        # the previous pass's points; the output is the mean of the N refined estimates
        # (2 passes: 3.324 -> 3.253 % validation NME for the shipped weights).
        if int(refine_passes) < 1:
            raise ValueError(f"refine_passes must be >= 1, got {refine_passes}")
        self.refine_passes = int(refine_passes)
        # flip_test: average with the mirrored face's prediction (twice the work, ~3 % lower NME)
        self.flip_test, self.mirror = bool(flip_test), mirror
        self._mirror = mirror_indices(num_points, mirror) if flip_test else None
        # None: crops are sampled straight from the full-resolution input (the paper). An int
        # box-filters larger inputs down to about that size first, so a crop's samples are
        # never sparser than the pixels it was trained on (no aliasing at 4K).
        self.source_size = None if source_size is None else int(source_size)
        self.input_size = tuple(input_size)  # nominal (training, export); any size is accepted
        if not 0.0 < region_fraction <= 1.0:
            raise ValueError(f"region_fraction is a fraction of the image side in (0, 1], got {region_fraction}")
        self.num_points, self.global_size, self.crop_size = num_points, global_size, crop_size
        self.global_channels, self.regional_channels = tuple(global_channels), tuple(regional_channels)
        self.region_fraction, self.beta = float(region_fraction), beta
        # global_blocks / regional_blocks: residual blocks after each network's plain layers
        # (more depth where the shipped network stopped improving; see copy_deepened_from)
        self.global_blocks, self.regional_blocks = int(global_blocks), int(regional_blocks)
        self.global_network = heatmap_network(global_size, self.global_channels, num_points, "global",
                                              GLOBAL_STRIDES, GLOBAL_DILATIONS, self.global_blocks)
        self.regional_network = heatmap_network(crop_size, self.regional_channels, num_points, "regional",
                                                REGIONAL_STRIDES, REGIONAL_DILATIONS, self.regional_blocks)
        # shape_correction: a last, linear stage on the whole shape (ShapeCorrection), fitted in
        # closed form on the training faces' predictions; it removes the networks' systematic error
        self.shape_correction = ShapeCorrection(num_points, name="shape_correction") if shape_correction else None

    def copy_deepened_from(self, shallow):
        """Set this model's weights so that it computes what ``shallow`` does: an ADC model
        of the same configuration but fewer residual blocks. Every layer of ``shallow`` is
        copied by name; the extra blocks keep their identity start (``residual_block``). Both
        models have a shape correction or neither (else a ValueError); it is copied too, so a
        corrected model is deepened under its correction (refit it after training: the recipe's
        ``--fit-shape-correction``).
        Returns ``self``.

        Example:
            >>> shallow = ADCLandmarks()                 # trained, no residual blocks
            >>> deep = ADCLandmarks(global_blocks=2, regional_blocks=1).copy_deepened_from(shallow)
        """
        differing = self.weights_config_differences(shallow, ignore=("global_blocks", "regional_blocks"))
        fewer = (shallow.global_blocks <= self.global_blocks and shallow.regional_blocks <= self.regional_blocks)
        if differing or not fewer:
            raise ValueError(f"{self.name} cannot be deepened from {shallow.name}: they must differ only by more "
                             f"residual blocks here (differing: {differing}; blocks global/regional "
                             f"{self.global_blocks}/{self.regional_blocks} from "
                             f"{shallow.global_blocks}/{shallow.regional_blocks})")
        for network in ("global_network", "regional_network"):
            target = getattr(self, network)
            for layer in getattr(shallow, network).layers:
                if layer.weights:
                    target.get_layer(layer.name).set_weights(layer.get_weights())
        if self.shape_correction is not None:
            self.shape_correction.set_weights(shallow.shape_correction.get_weights())
        return self

    def copy_with_points_from(self, other, combination):
        """Set this model's weights from ``other``, an ADC model of the same networks for
        another point scheme: every layer but the heatmap heads is copied; the global head's
        channel for each of this model's points is the affine ``combination`` (``(K, K_other)``,
        rows summing to 1) of ``other``'s channels, so its coarse points start near that
        combination of ``other``'s (a log-linear mix of Gaussian-like peaks has its own peak at
        the same mix of their centres); the regional head starts at zero (refined = coarse) and
        learns. Returns ``self``.

        Example:
            >>> helen194 = ADCLandmarks(num_points=194).copy_with_points_from(ibug68, weights)  # (194, 68)
        """
        combination = np.asarray(combination, np.float64)
        if combination.shape != (self.num_points, other.num_points):
            raise ValueError(f"combination must be ({self.num_points}, {other.num_points}), got {combination.shape}")
        if not np.allclose(combination.sum(1), 1.0, atol=1e-6):
            raise ValueError("each point's combination must sum to 1 (an affine combination of the other points)")
        differing = self.weights_config_differences(other, ignore=("num_points", "shape_correction"))
        if differing:
            raise ValueError(f"{self.name} and {other.name} differ in more than their points: {differing}")
        for network in ("global_network", "regional_network"):
            target = getattr(self, network)
            for layer in getattr(other, network).layers:
                if layer.weights and not layer.name.endswith("_heatmaps"):
                    target.get_layer(layer.name).set_weights(layer.get_weights())
        kernel, bias = other.global_network.get_layer("global_heatmaps").get_weights()
        self.global_network.get_layer("global_heatmaps").set_weights(
            [(kernel @ combination.T).astype(kernel.dtype), (combination @ bias).astype(bias.dtype)])
        head = self.regional_network.get_layer("regional_heatmaps")
        head.set_weights([np.zeros_like(w) for w in head.get_weights()])
        return self

    def weights_config(self):
        """Without the inference settings (flip average, regional passes, source size, nominal
        input size) and the loss's settings (along-contour weight, point loss), which shape no
        weight: a checkpoint saved with others fits the same preset."""
        return _without(super().weights_config(),
                        INFERENCE_SETTINGS + ("refine_passes", "source_size", "along_contour_weight", "point_loss"))

    def regions(self, centres, scale=(1.0, 1.0)):
        """Crop thetas ``(B, K, 2, 3)`` of squares of side ``region_fraction`` of the image,
        centred on ``centres`` ``(B, K, 2)`` (``[-1, 1]`` coordinates); ``scale`` maps the
        half-width into the coordinates of a downsampled source."""
        half = ops.full_like(centres[..., 0], self.region_fraction)  # side r of the image = half-width r
        # no all-zero tensor for the off-diagonals: int8 LiteRT crashes on one (scale_translation_theta)
        return scale_translation_theta(half * scale[0], half * scale[1], centres[..., 0], centres[..., 1])

    def call(self, images, training=False):
        shape = ops.shape(images)
        if training:
            stages = self.stages(images, training=True)
            return {**stages, "refined": _corrected(self.shape_correction, stages["refined"], shape[1], shape[2])}
        points_of = lambda x: self.stages(x)["refined"]  # noqa: E731
        points = flip_averaged(points_of, images, self._mirror) if self.flip_test else points_of(images)
        return _in_pixels(self.shape_correction, points, shape[1], shape[2])

    def stages(self, images, training=False):
        """Coarse and refined points (``[-1, 1]``), heatmaps and crop centres."""
        batch = ops.shape(images)[0]
        small = downsample(images, self.global_size)
        global_heatmaps = self.global_network(small, training=training)
        coarse = soft_argmax(global_heatmaps, self.beta)
        # Each landmark's crop is sampled from the full-resolution image, centred on the coarse
        # point. No gradient flows into the centres through the sampler: its image-gradient
        # signal swamped the global network's own losses (the coarse points stopped learning).
        centres = ops.stop_gradient(coarse)
        source, scale, shift = images, (1.0, 1.0), None
        if self.source_size and images.shape[1] is not None and max(images.shape[1:3]) >= 2 * self.source_size:
            factor = max(images.shape[1:3]) // self.source_size
            source = ops.average_pool(images, factor, strides=factor, padding="valid")
            a, b = zip(*(pooled_coordinates(full, factor) for full in images.shape[1:3][::-1]))  # x then y
            scale, shift = a, (ops.convert_to_tensor(a), ops.convert_to_tensor(b))
        estimates, heatmaps, at = [], None, centres
        for _ in range(self.refine_passes):
            where = at if shift is None else at * shift[0] + shift[1]
            offsets, pass_heatmaps = self._regional_offsets(source, where, scale, batch, training)
            heatmaps = pass_heatmaps if heatmaps is None else heatmaps  # the first pass's, for the loss
            estimates.append(at + self.region_fraction * offsets)
            at = ops.stop_gradient(estimates[-1])
        refined = sum(estimates) / len(estimates)
        return {"coarse": coarse, "refined": refined, "coarse_heatmaps": global_heatmaps,
                "regional_heatmaps": heatmaps, "centres": centres}

    def _regional_offsets(self, source, where, scale, batch, training):
        """Offsets ``(B, K, 2)`` (in region half-widths) of each landmark in its crop centred
        on ``where`` (coordinates of ``source``), and its own heatmaps ``(B*K, h, w, 1)``."""
        crops = affine_sample(source, self.regions(where, scale), (self.crop_size, self.crop_size))
        crops = ops.reshape(crops, (-1, self.crop_size, self.crop_size, source.shape[-1]))
        heatmaps = to_float32_if_half(self.regional_network(crops, training=training))  # (B*K, h, w, K)
        own = ops.one_hot(ops.tile(ops.arange(self.num_points), [batch]), self.num_points)
        heatmaps = ops.sum(heatmaps * own[:, None, None, :], axis=-1, keepdims=True)  # landmark k's own map
        return ops.reshape(soft_argmax(heatmaps, self.beta), (batch, self.num_points, 2)), heatmaps

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        return landmark_loss(x, y, y_pred, self.beta, self.region_fraction, tangent_pairs=self._tangent_pairs,
                             along_weight=self.along_contour_weight, point_loss=self.point_loss)

    def get_config(self):
        return {**super().get_config(), "num_points": self.num_points, "global_size": self.global_size,
                "global_channels": list(self.global_channels), "crop_size": self.crop_size,
                "region_fraction": self.region_fraction, "regional_channels": list(self.regional_channels),
                "beta": self.beta, "input_size": list(self.input_size), "source_size": self.source_size,
                "flip_test": self.flip_test, "mirror": self.mirror, "refine_passes": self.refine_passes,
                # only when set, so the published configs stay as they were
                **{k: v for k, v in (("global_blocks", self.global_blocks), ("regional_blocks", self.regional_blocks),
                                     ("shape_correction", self.shape_correction is not None)) if v},
                **({"along_contour_weight": self.along_contour_weight} if self.along_contour_weight != 1.0 else {}),
                **({"point_loss": self.point_loss} if self.point_loss != "l1" else {})}


def heatmap_loss(heatmaps, targets, beta, sigma=1.5):
    """Cross-entropy between each heatmap's spatial softmax and a Gaussian of ``sigma``
    heatmap pixels around its target (``(N, K, 2)`` in ``[-1, 1]``); targets outside the
    map are left out. It gives the soft-argmax a strong, early training signal."""
    heatmaps = to_float32_if_half(heatmaps)  # in float32 under a mixed-precision policy too
    height, width = heatmaps.shape[1], heatmaps.shape[2]
    points = heatmaps.shape[3]
    xs, ys = unit_grid(width), unit_grid(height)
    spread_x, spread_y = sigma * 2.0 / (width - 1), sigma * 2.0 / (height - 1)
    gx = ops.exp(-0.5 * ops.square((xs[None, None, :] - targets[..., 0:1]) / spread_x))  # (N, K, w)
    gy = ops.exp(-0.5 * ops.square((ys[None, None, :] - targets[..., 1:2]) / spread_y))  # (N, K, h)
    target = gy[..., :, None] * gx[..., None, :]
    target = ops.reshape(target, (-1, points, height * width))
    target = target / ops.maximum(ops.sum(target, axis=-1, keepdims=True), 1e-12)
    logits = ops.reshape(ops.transpose(heatmaps, (0, 3, 1, 2)), (-1, points, height * width))
    cross_entropy = -ops.sum(target * ops.log_softmax(beta * logits, axis=-1), axis=-1)
    inside = ops.cast(ops.all(ops.abs(targets) <= 1.0, axis=-1), "float32")
    return ops.sum(cross_entropy * inside) / ops.maximum(ops.sum(inside), 1.0)


def contour_neighbours(contours, num_points):
    """``(before, after)`` index arrays ``(K,)``: each point's neighbours on its contour
    (``(first, last, closed)`` tuples), itself at an open contour's end; their difference is
    the contour's direction there."""
    before, after = np.arange(num_points), np.arange(num_points)
    for first, last, closed in contours:
        run = np.arange(first, last + 1)
        before[run[1:]], after[run[:-1]] = run[:-1], run[1:]
        if closed:
            before[first], after[last] = last, first
    return before, after


def point_error(predicted, target, tangent_pairs=None, along_weight=1.0, point_loss="l1"):
    """Mean L1 error of points ``(B, K, 2)`` (``point_loss="wing"``: the Wing loss of each
    coordinate's error, :data:`WING`); with ``tangent_pairs`` (:func:`contour_neighbours`),
    measured along and across the target's contour at each point (its direction from the
    neighbours), the along part weighed by ``along_weight``. An open contour's ends keep their
    along error in full (it sets the contour's length), and a point whose neighbours coincide (a
    closed mouth's inner corners) has no direction: plain L1 (or Wing). ``along_weight`` 1 is the
    L1 (or Wing) error in the contour's frame."""
    if point_loss not in POINT_LOSSES:
        raise ValueError(f"point_loss must be one of {POINT_LOSSES}, got {point_loss!r}")
    penalty = (lambda e: wing(e, *WING)) if point_loss == "wing" else ops.abs  # noqa: E731
    if tangent_pairs is None:
        return ops.mean(penalty(predicted - target))
    before, after = tangent_pairs
    ends = ops.convert_to_tensor((np.asarray(before) == np.arange(len(before)))
                                 | (np.asarray(after) == np.arange(len(after))))
    direction = ops.take(target, after, axis=1) - ops.take(target, before, axis=1)
    length = ops.sqrt(ops.sum(ops.square(direction), -1))
    direction = direction / ops.maximum(length, 1e-6)[..., None]
    error = predicted - target
    along = penalty(ops.sum(error * direction, axis=-1))
    across = penalty(error[..., 1] * direction[..., 0] - error[..., 0] * direction[..., 1])
    framed = across + ops.where(ends, 1.0, along_weight) * along
    plain = ops.sum(penalty(error), axis=-1)
    return ops.mean(ops.where(length > 1e-6, framed, plain)) / 2.0


def landmark_loss(images, points, predictions, beta=10.0, region_fraction=None, heatmap_weight=0.05,
                  tangent_pairs=None, along_weight=1.0, point_loss="l1"):
    """Mean L1 (or Wing) distance in ``[-1, 1]`` coordinates summed over the prediction stages
    (:func:`point_error`: along and across each point's contour with ``tangent_pairs``), plus
    ``heatmap_weight`` times :func:`heatmap_loss` on the heatmaps the model returns in
    training; ``points`` are in the images' pixels."""
    shape = ops.shape(images)
    target = _pixels_to_normalised(ops.cast(points, "float32"), shape[1], shape[2])
    if not isinstance(predictions, dict):
        predictions = {"refined": _pixels_to_normalised(predictions, shape[1], shape[2])}
    loss = sum(point_error(predictions[k], target, tangent_pairs, along_weight, point_loss)
               for k in ("coarse", "refined") if k in predictions)
    if "coarse_heatmaps" in predictions:
        loss = loss + heatmap_weight * heatmap_loss(predictions["coarse_heatmaps"], target, beta)
    if "regional_heatmaps" in predictions:
        regional = predictions["regional_heatmaps"]
        local = (target - ops.stop_gradient(predictions["centres"])) / region_fraction  # in crop coordinates
        local = ops.reshape(local, (-1, 1, 2))
        loss = loss + heatmap_weight * heatmap_loss(regional, local, beta)
    return loss
