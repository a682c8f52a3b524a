"""Baselines the papers compare against, wrapping ``keras.applications``.

Each wrapper builds the keras.applications backbone (no top) directly on this
model's input tensor, so the resulting model is one flat functional graph
(Grad-CAM needs no nested-model surgery, tf-keras-vis #63), then adds
global average pooling and a softmax head. The input normalisation each
backbone was trained with is the model's first layer.

(ResNet-50 lives in ``resnet.py``: it is rebuilt with keras.applications'
names so the papers' torchvision variant can be chosen.) Li et al. 2023
(ConvNeXt-AT), Table 3, compares ResNet-50, MobileNet and EfficientNet(-B0);
Cheng et al. (DPN-SENet), Table 1, compares ResNet-18/50/101, DenseNet-121/201,
DPN-68/92/131, VGG16 and InceptionV3; Covid-DenseNet compares against
DenseNet-121; Chen et al. (improved ResNet50, CT) against ResNet-50. The papers
fine-tune each with its classifier replaced; VGG16 here uses global pooling
instead of the 4096-4096 fully connected top, so it runs at any input size.
"""

import numpy as np
import keras

from keras_cxr.layers.input_adapters import IMAGENET_MEAN, IMAGENET_STD
from keras_cxr.models.heads import pooled_classifier
from keras_cxr.models.imagenet import ImagenetSource
from keras_cxr.models.inputs import image_input
from keras_cxr.models.registry import register_model


def _imagenet(app):
    return ImagenetSource(app.__name__)


def build_application(app, name, normalization, num_classes, input_shape, dropout=0.0):
    """keras.applications backbone on a [0, 1] input + pooled softmax head."""
    inputs, x = image_input(input_shape, normalization=normalization, rgb=True)
    backbone = app(include_top=False, weights=None, input_tensor=x)
    outputs = pooled_classifier(backbone.output, num_classes, dropout=dropout)
    return keras.Model(inputs, outputs, name=name)


def _register(name, app, normalization, paper, description, min_input_size=32):
    @register_model(
        name,
        paper=paper,
        description=description,
        min_input_size=min_input_size,
        imagenet_source=_imagenet(app),
    )
    def builder(num_classes, input_shape, *, dropout=0.0):
        return build_application(app, name, normalization, num_classes, input_shape, dropout)

    builder.__name__ = name
    builder.__doc__ = description
    return builder


resnet101 = _register(
    "resnet101", keras.applications.ResNet101, "caffe", "cheng_dpn_se", "ResNet-101 (keras.applications)"
)
densenet121 = _register(
    "densenet121",
    keras.applications.DenseNet121,
    "imagenet",
    "covid_densenet,cheng_dpn_se",
    "DenseNet-121 (keras.applications)",
)
densenet201 = _register(
    "densenet201", keras.applications.DenseNet201, "imagenet", "cheng_dpn_se", "DenseNet-201 (keras.applications)"
)
mobilenet = _register("mobilenet", keras.applications.MobileNet, "tf", "li2023", "MobileNet v1 (keras.applications)")
vgg16 = _register(
    "vgg16", keras.applications.VGG16, "caffe", "cheng_dpn_se", "VGG16 with a pooled head (keras.applications)"
)
inception_v3 = _register(
    "inception_v3",
    keras.applications.InceptionV3,
    "tf",
    "cheng_dpn_se",
    "InceptionV3 (keras.applications)",
    min_input_size=75,
)


@register_model(
    "efficientnet_b0",
    paper="li2023",
    description="EfficientNet-B0 (keras.applications)",
    imagenet_source=_imagenet(keras.applications.EfficientNetB0),
)
def efficientnet_b0(num_classes, input_shape, *, dropout=0.0):
    """EfficientNet-B0.

    keras.applications' EfficientNet normalises inside the graph, and its
    ImageNet build stores the std where the variance belongs and fixes it with
    an extra rescaling layer that a random build lacks. Setting the internal
    Normalization to the true ImageNet statistics here gives the same function
    in both builds; weight transfer skips Normalization layers. The layer
    must then be finalised: until then it normalises with the statistics it was
    built with (mean 0, variance 1), and a saved model, finalised on loading,
    computed another function than the one trained.
    """
    model = build_application(keras.applications.EfficientNetB0, "efficientnet_b0", "scale255",
                              num_classes, input_shape, dropout)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Normalization):
            values = {w.path.split("/")[-1]: w for w in layer.weights}
            values["mean"].assign(np.asarray(IMAGENET_MEAN, "float32").reshape(values["mean"].shape))
            values["variance"].assign(
                (np.asarray(IMAGENET_STD, "float32") ** 2).reshape(values["variance"].shape)
            )
            layer.finalize_state()  # call() reads tensors made from the variables at build time, not the variables
    return model
