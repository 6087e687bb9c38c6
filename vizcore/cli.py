"""``vizcore <method> ...`` (or ``python -m vizcore``): a thin shell over the same functions the pages call.

Conventions shared by every method: ``--model NAME`` picks a registry model (or ``--model-file
PATH`` your own .keras/.h5 model, checked before loading, with ``--preprocessing`` and
``--class-names``), ``--out PATH.png``
writes the picture, ``--array PATH.npy`` the raw result, ``--json`` prints a summary on stdout.
IMAGE is a file path or ``sample:NAME`` for a bundled photo. A user error prints one sentence
on stderr and exits with status 2; ``VIZCORE_DEBUG=1`` shows tracebacks for bug reports.
The attribution methods' arguments are built from their table, vizcore/attribution/methods.py.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import warnings

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 1
SAMPLE_PREFIX = "sample:"
PROG = "vizcore"
DEFAULT_TOP = 5  # classes listed by predict, fewer when the model has fewer
OVERLAY_OPACITY = 0.5
ANIMATED_METHODS = ("occlusion",)  # attribution methods with --animate: those that report a map as it fills in
EXIT_MISMATCH = 1  # vizcore rerun: the recomputed report differs from the file


class _OneSentenceParser(argparse.ArgumentParser):
    def error(self, message: str):
        raise _UsageError(f"{message[0].upper()}{message[1:].rstrip('.')} (see {PROG} --help).")


class _UsageError(Exception):
    pass


@contextlib.contextmanager
def _stderr_silenced():
    """Hide the C++ log lines TensorFlow writes straight to fd 2 while it loads."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_vizcore():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_silenced():
        import keras

        import vizcore
        import vizcore.models  # loads TensorFlow here, where its start-up noise is hidden

    keras.config.disable_interactive_logging()  # download progress bars would corrupt --json stdout
    return vizcore


def _method_table():
    """The attribution method table (pure data: importing it does not start TensorFlow)."""
    from vizcore.attribution import methods

    return methods


def read_image(argument: str):
    """RGB uint8 pixels from a path or ``sample:NAME``."""
    from vizcore import images
    from vizcore.errors import VizcoreError

    if argument.startswith(SAMPLE_PREFIX):
        return images.load_sample(argument[len(SAMPLE_PREFIX):])
    try:
        with open(argument, "rb") as stream:
            data = stream.read(images.MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise VizcoreError(f"There is no file at {argument}.") from None
    except IsADirectoryError:
        raise VizcoreError(f"{argument} is a folder, not an image file.") from None
    except OSError as error:
        raise VizcoreError(f"{argument} could not be read ({error.strerror}).") from None
    return images.decode_image(data)


def _write_outputs(args, picture=None, array=None) -> None:
    import numpy as np

    from vizcore import images
    from vizcore.errors import VizcoreError

    try:
        if getattr(args, "out", None) and picture is not None:
            with open(args.out, "wb") as stream:
                stream.write(images.encode_png(picture))
        if getattr(args, "array", None) and array is not None:
            np.save(args.array, array)
    except OSError as error:
        raise VizcoreError(f"Could not write the output file ({error.strerror}: {error.filename}).") from None


def _add_output_options(parser, picture_help: str, array_help: str) -> None:
    parser.add_argument("--out", metavar="PATH.png", help=picture_help)
    parser.add_argument("--array", metavar="PATH.npy", help=array_help)
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def _add_model_file_options(parser) -> None:
    parser.add_argument("--model-file", default=None, metavar="PATH",
                        help="your own model (.keras or legacy .h5), checked before loading; instead of --model")
    parser.add_argument("--preprocessing", default=None, metavar="NAME",
                        help="input preprocessing for --model-file: unit (0-1, default), tf (-1..1), caffe, torch, none")
    parser.add_argument("--class-names", default=None, metavar="PATH",
                        help="class names for --model-file: .txt one per line, or .json list")


def _add_model_options(parser) -> None:
    parser.add_argument("--model", default=None, metavar="NAME", help="registry model (default: embedded; see vizcore models)")
    _add_model_file_options(parser)


def _add_image_argument(parser) -> None:
    parser.add_argument("image", metavar="IMAGE", help="image file, or sample:NAME (e.g. sample:chelsea)")


def _add_class_option(parser) -> None:
    parser.add_argument("--class", dest="class_name", default=None, metavar="NAME|INDEX",
                        help='class to explain, by name ("tiger cat") or index (282) (default: the top-1 class)')


def _option_help(option) -> str:
    limits = f"one of {option.range_text()}" if option.choices else option.range_text()
    return f"{option.help} (default {option.default}; {limits})"


def _add_method_parser(methods_parsers, method) -> None:
    """One attribution method's subcommand, every option from its row in the method table."""
    parser = methods_parsers.add_parser(method.name, help=f"{method.title}: {method.summary}",
                                        description=f"{method.title}: {method.summary}.")
    _add_image_argument(parser)
    _add_model_options(parser)
    _add_class_option(parser)
    if method.needs_layer:
        parser.add_argument("--layer", default=None, metavar="NAME",
                            help="convolutional layer (default: the model's Grad-CAM layer; see vizcore layers)")
    if method.contrastive:
        parser.add_argument("--contrast", default=None, metavar="NAME|INDEX",
                            help="show the evidence for the class against this one, by name or index (a contrastive map)")
    for option in method.options:
        if option.choices:
            parser.add_argument(option.flag, dest=option.name, default=option.default, choices=option.choices,
                                help=_option_help(option))
        else:
            metavar = "PX" if option.unit == "px" else ("N" if option.kind is int else "F")
            parser.add_argument(option.flag, dest=option.name, type=option.kind, default=option.default,
                                metavar=metavar, help=_option_help(option))
    if method.gradient_map:
        pictures = "the map (inferno colormap) next to the image with the map over it"
        array = "the raw signed gradient map, S x S x 3 float32 at the model input size (IG: S x S)"
    else:
        pictures, array = "the map over the image (jet colormap)", "the raw map, S x S float32 at the model input size"
    _add_output_options(parser, pictures, array)
    if method.name in ANIMATED_METHODS:
        _add_animate_option(parser, "the occlusion sweep, the map filling in patch by patch")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneSentenceParser(prog=PROG, description=__doc__.split("\n\n")[0].replace("``", ""))
    methods = parser.add_subparsers(dest="method", metavar="METHOD", parser_class=_OneSentenceParser)
    methods.required = True

    methods.add_parser("models", help="list the models and whether each works now (offline)").add_argument(
        "--json", action="store_true", help="print JSON instead of a table"
    )

    layers = methods.add_parser("layers", help="every layer of a model with its output shape, presets marked")
    _add_model_options(layers)
    layers.add_argument("--json", action="store_true", help="print JSON instead of a table")

    predict = methods.add_parser("predict", help="top-k classes for an image")
    _add_image_argument(predict)
    _add_model_options(predict)
    predict.add_argument("--top", type=int, default=None, metavar="K",
                         help=f"how many classes (default {DEFAULT_TOP}, or all when the model has fewer)")
    _add_output_options(predict, "the image as the model sees it", "the full probability vector")

    explore = methods.add_parser("activations", help="feature maps of one layer as a channel grid")
    _add_image_argument(explore)
    _add_model_options(explore)
    explore.add_argument("--layer", default=None, metavar="NAME", help="layer name (default: the model's first explorer preset)")
    explore.add_argument("--normalise", default="minmax", choices=["minmax", "meanstd"], help="per-channel scaling")
    explore.add_argument("--sort", default="mean", choices=["mean", "index"], help="channel order in the grid")
    explore.add_argument("--max-channels", type=int, default=64, metavar="N", help="channels in the grid (default 64)")
    _add_output_options(explore, "the channel grid", "the raw activations, H x W x C float32")

    gallery = methods.add_parser("filters", help="images that excite chosen channels of a layer (filter gallery)")
    _add_model_options(gallery)
    gallery.add_argument("--layer", default=None, metavar="NAME", help="layer name (default: the app's first gallery preset)")
    gallery.add_argument("--channels", default=None, metavar="LIST",
                         help="channels, e.g. 0-15 or 3,7,40-43 (default: the preset's, else 0-15)")
    gallery.add_argument("--steps", type=int, default=128, metavar="N",
                         help="optimisation steps, the first 5/8 on a half-size tile (default 128)")
    gallery.add_argument("--size", type=int, default=None, metavar="PX",
                         help="image side in pixels (default 128; with --objective class the model's input size)")
    gallery.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    gallery.add_argument("--learning-rate", type=float, default=0.05, metavar="LR", help="Adam step size (default 0.05)")
    gallery.add_argument("--parameterization", default="fourier", choices=["fourier", "pixel"], help="image representation")
    gallery.add_argument("--objective", default="channel", choices=["channel", "neuron", "class"],
                         help="whole channel, its centre unit, or a class's logit (class model visualisation, with --class)")
    gallery.add_argument("--class", dest="classes", default=None, metavar="LIST",
                         help='with --objective class: classes by name or index, e.g. 285,967 or "tabby, espresso"')
    gallery.add_argument("--images-per-channel", type=int, default=1, metavar="K", help="above 1, diverse images per channel")
    gallery.add_argument("--tv-weight", type=float, default=0.0, metavar="W", help="total-variation penalty (smoother)")
    gallery.add_argument("--l2-weight", type=float, default=0.0, metavar="W", help="L2 penalty (less saturated)")
    _add_output_options(gallery, "the gallery as one grid", "the images, N x PX x PX x 3 uint8")
    _add_animate_option(gallery, "the gallery's optimisation, step by step")

    dream = methods.add_parser("dream", help="DeepDream: amplify what chosen layers see in the image")
    _add_image_argument(dream)
    _add_model_options(dream)
    dream.add_argument("--layers", default=None, metavar="NAME:W,...", help="layers and weights (default: the model's preset)")
    dream.add_argument("--octaves", type=int, default=4, metavar="N", help="scales, smallest first (default 4)")
    dream.add_argument("--scale", type=float, default=1.3, metavar="F", help="size ratio between octaves (default 1.3)")
    dream.add_argument("--steps", type=int, default=10, metavar="N", help="steps per octave (default 10)")
    dream.add_argument("--step-size", type=float, default=0.005, metavar="F", help="share of the pixel range per step")
    dream.add_argument("--seed", type=int, default=0, metavar="S", help="random seed for the tile rolls (default 0)")
    _add_output_options(dream, "the dream", "the dream as H x W x 3 uint8")
    _add_animate_option(dream, "the dream across its octaves, step by step")

    styled = methods.add_parser("style", help="neural style transfer: CONTENT repainted in the style of STYLE images")
    styled.add_argument("content", metavar="CONTENT", help="image file, or sample:NAME")
    styled.add_argument("styles", metavar="STYLE", nargs="+",
                        help="one or more style images (files or sample:NAME); with --fast, these or built-in "
                             "style numbers 0-25")
    styled.add_argument("--fast", action="store_true",
                        help="one forward pass of a pretrained style network instead of optimising: the 26-style "
                             "network for style numbers, the arbitrary-style networks for images (uses only "
                             "--style-weights, --size and the outputs)")
    _add_model_options(styled)
    styled.add_argument("--style-weights", default=None, metavar="W,...", help="one weight per style image (default equal)")
    styled.add_argument("--steps", type=int, default=200, metavar="N", help="optimisation steps (default 200)")
    styled.add_argument("--size", type=int, default=None, metavar="PX",
                        help="output's longer side (default 256; with --fast 512)")
    styled.add_argument("--strength", type=float, default=5.0, metavar="F", help="style against content (default 5)")
    styled.add_argument("--start", default="content", choices=["content", "noise"], help="start image")
    styled.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    _add_output_options(styled, "the styled image", "the styled image as H x W x 3 uint8")
    _add_animate_option(styled, "the optimisation, step by step (not with --fast)")

    table = _method_table()
    for method in table.TABLE:
        _add_method_parser(methods, method)
    _add_sanity_parser(methods, table)
    _add_dataset_parsers(methods)
    _add_embed_parser(methods)
    _add_report_parsers(methods)
    _add_attack_parsers(methods)
    _add_invert_parsers(methods)
    _add_texture_parsers(methods)
    _add_serve_parsers(methods)
    return parser


def _add_sanity_parser(methods_parsers, table) -> None:
    """``vizcore sanity METHOD IMAGE``: a method's options are the table's, given only to change a default."""
    parser = methods_parsers.add_parser(
        "sanity", help="does a method's map change when the model's top layers are re-initialised? (Adebayo et al. 2018)",
        description="The cascading randomisation test: the map recomputed with the top layers' weights re-initialised, "
                    "from the logits down, and its Spearman rank correlation with the original map.",
    )
    parser.add_argument("sanity_method", metavar="METHOD", help=f"the method to check: {', '.join(table.METHODS)}")
    _add_image_argument(parser)
    _add_model_options(parser)
    _add_class_option(parser)
    parser.add_argument("--layer", default=None, metavar="NAME",
                        help="for the CAM methods: convolutional layer (default: the model's Grad-CAM layer)")
    parser.add_argument("--contrast", default=None, metavar="NAME|INDEX",
                        help="check the contrastive map: the evidence for the class against this one")
    parser.add_argument("--depths", type=int, default=None, metavar="N",
                        help="blocks re-initialised at the deepest step, one map each (default 4; 1 to 4)")
    for option, users in _every_option(table).items():
        parser.add_argument(option.flag, dest=option.name, type=option.kind, default=None,
                            metavar="V" if option.choices else ("N" if option.kind is int else "F"),
                            help=f"{', '.join(users)}: {_option_help(option)}")
    parser.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def _every_option(table) -> dict:
    """Each option name in the method table once (its first row's spec) -> the methods that take it."""
    options: dict = {}
    names: dict = {}
    for method in table.TABLE:
        for option in method.options:
            first = names.setdefault(option.name, option)
            options.setdefault(first, []).append(method.name)
    return options


def run_models(args, vizcore) -> None:
    from vizcore.models import weights_available_offline, zoo

    rows = []
    for spec in vizcore.MODELS.values():
        row = {
            "name": spec.name,
            "display_name": spec.display_name,
            "input_size": spec.input_size,
            "available_offline": weights_available_offline(spec),
            "weights_file": spec.weights_file,
        }
        if not spec.embedded:
            row["weights_path"] = zoo.weights_path(spec.weights_file)
            row["weights_url"] = zoo.weights_url(spec.name, spec.weights_file)
        rows.append(row)
    if args.json:
        print(json.dumps({"models": rows}, indent=2))
        return
    print(f"Models (zoo weights live in {zoo.keras_weights_dir()}):")
    for row in rows:
        if row["weights_file"] is None:
            state = "works now (embedded)"
        elif row["available_offline"]:
            state = f"works now ({row['weights_file']} is in the folder above)"
        else:
            state = f"needs the network once: downloads {row['weights_url']}"
        print(f"  {row['name']:<18} {row['input_size']:>3} px  {state}")


def run_layers(args, vizcore) -> None:
    from vizcore.models.layers import layer_infos, preset_roles

    check_model_choice(args, vizcore)
    model = load_chosen_model(args, vizcore)
    roles = preset_roles(model)
    infos = layer_infos(model)
    rows = [
        {"name": info.name, "kind": info.kind, "shape": list(info.shape), "feature_map": info.is_feature_map,
         "presets": roles.get(info.name, [])}
        for info in infos
    ]
    if args.json:
        print(json.dumps({"model": model.spec.name, "layers": rows}, indent=2))
        return
    width = max(len(info.name) for info in infos)
    print(f"{model.spec.name}: {len(infos)} layers, output shapes without the batch axis; "
          "* marks the layers vizcore's presets use, and for what")
    for info in infos:
        uses = roles.get(info.name, [])
        mark, purposes = ("*", f"  {', '.join(uses)}") if uses else (" ", "")
        print(f"{mark} {info.name:<{width}}  {info.kind:<22} {info.shape_text}{purposes}")


def check_model_choice(args, vizcore) -> None:
    """Fail fast, before slow work: an unknown registry name, or options that do not go together."""
    if args.model_file is None:
        if args.preprocessing is not None or args.class_names is not None:
            raise vizcore.VizcoreError("--preprocessing and --class-names apply to --model-file only.")
        vizcore.get_spec(args.model or vizcore.DEFAULT_MODEL)
    elif args.model is not None:
        raise vizcore.VizcoreError("Choose either --model or --model-file, not both.")


def load_chosen_model(args, vizcore):
    """The registry model named by --model, or the user's --model-file after vizcore's safety checks."""
    from pathlib import Path

    if args.model_file is not None:
        return vizcore.load_model(Path(args.model_file), args.preprocessing, args.class_names)
    return vizcore.load_model(args.model or vizcore.DEFAULT_MODEL)


def run_predict(args, vizcore) -> None:
    from vizcore.images import fit_to_model

    check_model_choice(args, vizcore)
    pixels = read_image(args.image)
    model = load_chosen_model(args, vizcore)
    model_name = model.spec.name
    probabilities = vizcore.class_probabilities(model, pixels)
    top = args.top if args.top is not None else min(DEFAULT_TOP, len(probabilities))
    predictions = vizcore.top_predictions(model, pixels, top)
    _write_outputs(args, picture=fit_to_model(pixels, model.spec.input_size), array=probabilities)
    if args.json:
        print(json.dumps({"model": model_name, "predictions": [p.as_dict() for p in predictions]}, indent=2))
        return
    for rank, prediction in enumerate(predictions, start=1):
        print(f"{rank:>2}. {prediction.label} ({prediction.index})  {prediction.probability:.1%}")


def run_activations(args, vizcore) -> None:
    from vizcore import activations, viz

    check_model_choice(args, vizcore)
    if args.max_channels < 1:
        raise vizcore.VizcoreError(f"--max-channels must be at least 1, not {args.max_channels}.")
    pixels = read_image(args.image)
    model = load_chosen_model(args, vizcore)
    model_name = model.spec.name
    layer = args.layer or model.spec.presets.explorer_layers[0]
    maps = activations.layer_activations(model, pixels, layer)
    shown = activations.channel_order(maps, args.sort)[: args.max_channels]
    grid = viz.channel_grid(activations.normalise_channels(maps, args.normalise), shown)
    _write_outputs(args, picture=grid, array=maps)
    strongest = activations.strongest_channels(maps)
    if args.json:
        summary = {"model": model_name, "layer": layer, "shape": list(maps.shape), "top_channels": strongest}
        print(json.dumps(summary, indent=2))
        return
    print(f"{layer}: {maps.shape[0]}x{maps.shape[1]}, {maps.shape[2]} channels; strongest by mean:")
    for row in strongest:
        print(f"  channel {row['channel']:>4}  mean {row['mean']:.3f}  max {row['max']:.3f}  zeros {row['zero_fraction']:.0%}")


def default_gallery(model) -> tuple[str, str]:
    """The layer and channels the app's filter gallery opens with: its first gallery preset, else the first explorer layer."""
    presets = model.spec.presets
    if presets.gallery:
        return presets.gallery[0]
    return presets.explorer_layers[0], "0-15"


def run_filters(args, vizcore) -> None:
    from vizcore import filters, viz
    from vizcore.animation import grid_frame

    check_model_choice(args, vizcore)
    settings = filters.FilterSettings(
        steps=args.steps, size=args.size or filters.FilterSettings.size, seed=args.seed, learning_rate=args.learning_rate,
        parameterization=args.parameterization, objective=args.objective, images_per_channel=args.images_per_channel,
        tv_weight=args.tv_weight, l2_weight=args.l2_weight,
    )
    settings.check()  # before the slow load
    if (args.objective == "class") != (args.classes is not None):
        raise vizcore.VizcoreError("--class goes with --objective class, and --objective class needs --class.")
    if args.objective == "class" and (args.layer is not None or args.channels is not None):
        raise vizcore.VizcoreError("--objective class reads the model's class scores: leave out --layer and --channels.")
    model = load_chosen_model(args, vizcore)
    preset_layer, preset_channels = default_gallery(model)
    layer = args.layer or preset_layer
    recorder, animated = _animation(args, settings.steps, lambda update: grid_frame(update.images))
    if args.objective == "class":
        if args.size is None:  # the model's own input size: each image is classified exactly as it was rendered
            settings = dataclasses.replace(settings, size=model.spec.input_size)
        gallery = filters.visualise_classes(model, filters.parse_classes(args.classes, model.class_names), settings,
                                            **animated)
        _write_animation(args, recorder)
        _write_outputs(args, picture=viz.image_grid(gallery.images, columns=8), array=gallery.images)
        _report_class_gallery(gallery, args.json)
        return
    channel_text = args.channels or (preset_channels if args.layer is None else "0-15")
    channels = filters.parse_channels(channel_text, filters.layer_channel_count(model, layer))
    gallery = filters.visualise_filters(model, layer, channels, settings, **animated)
    _write_outputs(args, picture=viz.image_grid(gallery.images, columns=8), array=gallery.images)
    _write_animation(args, recorder)
    summary = gallery.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{layer}: {len(gallery.channels)} images, {gallery.steps_done} steps in {gallery.seconds:.1f} s")
    for row in summary["images"]:
        print(f"  channel {row['channel']:>4}  activation {row['initial_activation']:8.3f} -> {row['final_activation']:8.3f}")


def _report_class_gallery(gallery, as_json: bool) -> None:
    summary = gallery.summary()
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    count = len(gallery.channels)
    print(f"{count} class image{'' if count == 1 else 's'}, {gallery.steps_done} steps in {gallery.seconds:.1f} s")
    for row in summary["images"]:
        print(f"  {row['label']} ({row['class']})  logit {row['initial_logit']:7.2f} -> {row['final_logit']:7.2f}  "
              f"seen as {row['top1_label']} ({row['top1_probability']:.0%})")


def _numbers(text: str, what: str) -> list[float]:
    from vizcore.errors import VizcoreError

    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise VizcoreError(f"Could not read {what} {text!r}: write numbers separated by commas.") from None


def parse_layer_weights(text: str) -> dict[str, float]:
    """``"mixed3:1,mixed5:1.5"`` -> {"mixed3": 1.0, "mixed5": 1.5}; a layer without ``:W`` weighs 1."""
    layers = {}
    for part in text.split(","):
        if part.strip():
            name, _, weight = part.strip().partition(":")
            layers[name.strip()] = _numbers(weight or "1", f"the weight of layer {name.strip()}")[0]
    return layers


def run_dream(args, vizcore) -> None:
    from vizcore import dream

    check_model_choice(args, vizcore)
    settings = dream.DreamSettings(octaves=args.octaves, octave_scale=args.scale, steps_per_octave=args.steps,
                                   step_size=args.step_size, seed=args.seed)
    settings.check()
    pixels = read_image(args.image)
    model = load_chosen_model(args, vizcore)
    model_name = model.spec.name
    layers = parse_layer_weights(args.layers) if args.layers else None
    recorder, animated = _animation(args, settings.total_steps, lambda update: update.images)
    result = dream.deep_dream(model, pixels, layers, settings, **animated)
    _write_outputs(args, picture=result.image, array=result.image)
    _write_animation(args, recorder)
    summary = {"model": model_name, **result.summary()}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"Dreamed {result.steps_done} steps in {result.seconds:.1f} s on {', '.join(result.layers)}")


def run_fast_style(args, vizcore) -> None:
    """Built-in style numbers run the 26-style network; style images run the arbitrary-style networks."""
    from vizcore import fast_style

    settings = fast_style.FastStyleSettings(size=args.size or fast_style.DEFAULT_SIZE)
    settings.check()
    weights = _numbers(args.style_weights, "style weights") if args.style_weights else None
    numbers = [text.strip() for text in args.styles if text.strip().isdigit()]
    if numbers and len(numbers) < len(args.styles):
        raise vizcore.VizcoreError("With --fast, give either built-in style numbers or style images, not both.")
    if numbers:
        styles = [parse_fast_style(text) for text in numbers]
        fast_style.style_blend(styles, weights)  # refuses bad weights before the image is read
        content = read_image(args.content)
        result = fast_style.fast_style(content, styles, weights, settings)
    else:
        content = read_image(args.content)
        style_images = [read_image(path) for path in args.styles]
        result = fast_style.fast_style_from_images(content, style_images, weights, settings, style_names=args.styles)
    _write_outputs(args, picture=result.image, array=result.image)
    if args.json:
        print(json.dumps(result.summary(), indent=2))
        return
    print(f"Styled in one pass, {result.seconds:.2f} s: {result.image.shape[1]} x {result.image.shape[0]} px, "
          f"styles {', '.join(map(str, result.styles))}")


def parse_fast_style(text: str) -> int:
    """A built-in style's number, 0-25."""
    from vizcore.errors import VizcoreError
    from vizcore.models.style_network import NUM_STYLES

    if int(text) >= NUM_STYLES:
        raise VizcoreError(f"With --fast, a built-in style is a number from 0 to {NUM_STYLES - 1}, not {text}.")
    return int(text)


def run_style(args, vizcore) -> None:
    from vizcore import style
    from vizcore.animation import frame_from_unit

    if args.fast:
        if args.animate:
            raise vizcore.VizcoreError("--fast paints in one pass, so there are no steps to animate: leave out --animate.")
        run_fast_style(args, vizcore)
        return
    check_model_choice(args, vizcore)
    settings = style.StyleSettings(size=args.size or style.StyleSettings.size, steps=args.steps,
                                   style_strength=args.strength, start=args.start, seed=args.seed)
    settings.check()
    weights = _numbers(args.style_weights, "style weights") if args.style_weights else None
    content = read_image(args.content)
    styles = [read_image(path) for path in args.styles]
    model = load_chosen_model(args, vizcore)
    model_name = model.spec.name
    recorder, animated = _animation(args, settings.steps, lambda update: frame_from_unit(update.images[0]))
    result = style.transfer_style(model, content, styles, weights, settings, **animated)
    _write_outputs(args, picture=result.image, array=result.image)
    _write_animation(args, recorder)
    summary = {"model": model_name, **result.summary()}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"Styled in {result.steps_done} steps, {result.seconds:.1f} s: content {result.content_loss:.3f}, "
          f"style {result.style_loss:.3f}, total variation {result.tv_loss:.3f}")


def run_attribution(args, vizcore) -> None:
    from vizcore import attribution, viz
    from vizcore.attribution.methods import get_method
    from vizcore.images import fit_to_model
    from vizcore.models.class_names import class_index_of

    check_model_choice(args, vizcore)
    method = get_method(args.method)
    options = {option.name: getattr(args, option.name) for option in method.options}
    method.check(options)  # the table's ranges, before the slow load (bounds that are the input size come later)
    pixels = read_image(args.image)
    model = load_chosen_model(args, vizcore)
    model_name = model.spec.name
    class_index = None if args.class_name is None else class_index_of(model.class_names, args.class_name)
    contrast = getattr(args, "contrast", None)
    contrast_class = None if contrast is None else class_index_of(model.class_names, contrast)
    layer = args.layer if method.needs_layer else None
    view = fit_to_model(pixels, model.spec.input_size)
    recorder, animated = _animation(args, 0, lambda partial: viz.map_picture(
        view, viz.display_map(partial, method.name), method.name, OVERLAY_OPACITY))
    # an animated method (occlusion) reports its map so far after every chunk of patches
    progress = {"progress": lambda done, total, partial: animated["on_progress"](partial)} if animated else {}
    result = attribution.explain(model, pixels, method.name, class_index=class_index, layer=layer,
                                 contrast_class=contrast_class, **options, **progress)
    _write_animation(args, recorder)
    curves = attribution.faithfulness(model, pixels, result.values, result.class_index)
    shown = viz.display_map(result.values, result.method)
    picture = viz.map_picture(view, shown, result.method, OVERLAY_OPACITY)
    _write_outputs(args, picture=picture, array=result.saved())
    summary = {
        "method": result.method,
        "model": model_name,
        "class_index": result.class_index,
        "label": result.label,
        "contrast_class": result.contrast_class,
        "contrast_label": result.contrast_label,
        "layer": result.layer,
        "class_score": result.probability,
        "deletion_area": curves.deletion_area,
        "insertion_area": curves.insertion_area,
        "details": result.details,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    where = f" at {result.layer}" if result.layer else ""
    against = f" against {result.contrast_label} ({result.contrast_class})" if result.contrast_class is not None else ""
    print(f"{method.title}{where} for {result.label} ({result.class_index}){against}, probability {result.probability:.1%}")
    print(f"  deletion area {curves.deletion_area:.3f} (lower is more faithful), insertion area {curves.insertion_area:.3f} (higher)")
    if "completeness_error" in result.details:
        from vizcore.attribution.path_integrals import completeness_summary

        print(f"  {completeness_summary(result.details)}")


def run_sanity(args, vizcore) -> None:
    from vizcore.attribution.methods import get_method
    from vizcore.attribution.sanity import sanity_check
    from vizcore.models.class_names import class_index_of

    check_model_choice(args, vizcore)
    method = get_method(args.sanity_method)
    options = {option.name: getattr(args, option.name) for option in _every_option(_method_table())
               if getattr(args, option.name) is not None}
    method.check(options)  # an option the method does not take is one sentence, before the slow load
    if args.layer is not None and not method.needs_layer:
        raise vizcore.VizcoreError(f"{method.title} reads no layer: --layer applies to the CAM methods only.")
    pixels = read_image(args.image)
    model = load_chosen_model(args, vizcore)
    class_index = None if args.class_name is None else class_index_of(model.class_names, args.class_name)
    contrast_class = None if args.contrast is None else class_index_of(model.class_names, args.contrast)
    depths = {} if args.depths is None else {"depths": args.depths}
    check = sanity_check(model, pixels, method.name, class_index, args.layer, contrast_class, **depths, **options)
    if args.json:
        print(json.dumps({"model": model.spec.name, **check.summary()}, indent=2))
        return
    where = f" at {check.layer}" if check.layer else ""
    verdict = "passes" if check.passes else "fails"
    print(f"{method.title}{where} for {check.label} ({check.class_index}) {verdict} the randomisation sanity check "
          f"(passing takes a Spearman correlation below {check.threshold:g} at the deepest re-initialisation)")
    for row in check.correlations:
        layers = row["randomised"]
        shown = ", ".join(layers) if len(layers) <= 3 else f"{', '.join(layers[:3])} ... {len(layers)} layers"
        print(f"  {row['spearman']:+.3f}  {shown}")


def _add_dataset_parsers(methods) -> None:
    """``index``, ``neighbours`` and ``patches``: a dataset indexed once, then searched (vizcore/datasets/)."""
    from vizcore.datasets.index import DEFAULT_BATCH_SIZE, DEFAULT_SHARD_SIZE, DEFAULT_TOP_K, ENGINES

    index = methods.add_parser("index", help="run a model over a folder or zip of images once, into a Parquet index")
    index.add_argument("data", metavar="DATA", help="a folder (class subfolders give labels) or a .zip of one")
    index.add_argument("--out", required=True, metavar="INDEX_DIR", help="the index folder (rerun to resume)")
    _add_model_options(index)
    index.add_argument("--layers", default=None, metavar="L1,L2",
                       help="layers whose channels get max-activating patches (default: the gallery presets)")
    index.add_argument("--engine", default="local", choices=ENGINES, help="where the pass runs (default local)")
    index.add_argument("--ray-address", default=None, metavar="ADDR", help="an existing Ray cluster (--engine ray)")
    index.add_argument("--ray-actors", type=int, default=1, metavar="N", help="model actors (--engine ray; default 1)")
    index.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, metavar="N",
                       help=f"images per forward pass (default {DEFAULT_BATCH_SIZE})")
    index.add_argument("--shard-size", type=int, default=DEFAULT_SHARD_SIZE, metavar="N",
                       help=f"images per Parquet shard, what a killed run can lose (default {DEFAULT_SHARD_SIZE})")
    index.add_argument("--top-k", type=int, default=DEFAULT_TOP_K, metavar="K",
                       help=f"images kept per layer and channel (default {DEFAULT_TOP_K})")
    index.add_argument("--json", action="store_true", help="print a JSON summary on stdout")

    neighbours = methods.add_parser("neighbours", help="the indexed images closest to an image in feature space")
    _add_image_argument(neighbours)
    neighbours.add_argument("--index", required=True, metavar="DIR", help="an index made by vizcore index")
    neighbours.add_argument("--k", type=int, default=10, metavar="K", help="how many neighbours (default 10)")
    neighbours.add_argument("--json", action="store_true", help="print JSON instead of a table")

    patches = methods.add_parser("patches", help="the dataset patches that excite one channel most")
    patches.add_argument("--index", required=True, metavar="DIR", help="an index made by vizcore index")
    patches.add_argument("--layer", required=True, metavar="NAME", help="an indexed layer")
    patches.add_argument("--channel", required=True, type=int, metavar="C", help="channel of that layer")
    patches.add_argument("--k", type=int, default=8, metavar="K", help="how many patches (default 8)")
    patches.add_argument("--out", metavar="PATH.png", help="the patches as a grid")
    patches.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run_index(args, vizcore) -> None:
    from vizcore.datasets.index import IndexSettings, build_index
    from vizcore.datasets.recipe import ModelChoice

    check_model_choice(args, vizcore)
    layers = tuple(name.strip() for name in args.layers.split(",") if name.strip()) if args.layers else None
    settings = IndexSettings(layers=layers, batch_size=args.batch_size, shard_size=args.shard_size, top_k=args.top_k)
    settings.check()
    choice = ModelChoice(name=args.model, file=args.model_file, preprocessing=args.preprocessing,
                         class_names=args.class_names)
    model = load_chosen_model(args, vizcore)
    if args.ray_actors < 1:
        raise vizcore.VizcoreError(f"--ray-actors must be at least 1, not {args.ray_actors}.")
    summary = build_index(args.data, args.out, model, settings, engine=args.engine, ray_address=args.ray_address,
                          ray_actors=args.ray_actors, model_choice=choice)
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
        return
    print(f"Indexed {summary.images} images into {summary.out} in {summary.seconds:.1f} s "
          f"({summary.shards_computed} of {summary.shards_total} shards computed now); skipped {len(summary.skipped)}:")
    for item in summary.skipped:
        print(f"  {item.path}: {item.reason}")


def run_neighbours(args, vizcore) -> None:
    from vizcore.datasets.neighbours import NeighbourIndex

    if args.k < 1:
        raise vizcore.VizcoreError(f"--k must be at least 1, not {args.k}.")
    index = NeighbourIndex(args.index)
    pixels = read_image(args.image)
    neighbours = index.nearest(index.embed(index.load_model(), pixels), args.k)
    if args.json:
        print(json.dumps({"neighbours": [item.as_dict() for item in neighbours]}, indent=2))
        return
    for rank, item in enumerate(neighbours, start=1):
        label = f"  label {item.label}" if item.label is not None else ""
        print(f"{rank:>3}. {item.path}  distance {item.distance:.4f}  predicted {item.predicted}{label}")


def run_patches(args, vizcore) -> None:
    from vizcore.datasets.patches import patch_grid, top_patches

    patches = top_patches(args.index, args.layer, args.channel, args.k)
    if args.out:
        _write_outputs(args, picture=patch_grid(args.index, patches))
    if args.json:
        print(json.dumps({"layer": args.layer, "channel": args.channel,
                          "patches": [patch.as_dict() for patch in patches]}, indent=2))
        return
    print(f"{args.layer} channel {args.channel}: {len(patches)} patches, highest activation first")
    for patch in patches:
        print(f"  {patch.activation:9.3f}  {patch.path}  box {list(patch.box)}")


def _add_attack_parsers(methods) -> None:
    """``attack``: an adversarial example (FGSM or PGD), real after saving (vizcore/adversarial.py)."""
    # Literal defaults, as for filters: importing vizcore.adversarial would start TensorFlow before any
    # argument is read (tests/test_cli.py holds these to the module's own).
    attack = methods.add_parser("attack", help="an adversarial example: the image changed a little so the model changes its mind")
    _add_image_argument(attack)
    _add_model_options(attack)
    attack.add_argument("--method", dest="attack_method", default="pgd", choices=("fgsm", "pgd"), help="one signed step (fgsm) or projected steps (pgd)")
    attack.add_argument("--norm", default="linf", choices=("linf", "l2"), help="how the change is bounded (default linf)")
    attack.add_argument("--epsilon", type=float, default=None, metavar="PX",
                        help="largest change in 0-255 pixel levels "
                             "(default 2 under linf, 128 under l2)")
    attack.add_argument("--steps", type=int, default=10, metavar="N", help="PGD steps (default 10)")
    attack.add_argument("--step-size", type=float, default=None, metavar="PX",
                        help="pixel levels per step (default: epsilon for fgsm, 2.5 x epsilon / steps for pgd, at most epsilon)")
    attack.add_argument("--target", default=None, metavar="CLASS",
                        help='class to reach, by name ("banana") or index (954) (default: untargeted, any other class)')
    _add_output_options(attack, "the adversarial image as saved, S x S at the model input size",
                        "the adversarial image, S x S x 3 uint8")
    _add_animate_option(attack, "the attack's steps: the image beside its change, amplified")


def run_attack(args, vizcore) -> None:
    import dataclasses

    from vizcore import adversarial
    from vizcore.animation import change_frame
    from vizcore.images import fit_to_model
    from vizcore.models.class_names import class_index_of

    check_model_choice(args, vizcore)
    settings = adversarial.AttackSettings(method=args.attack_method, norm=args.norm, epsilon=args.epsilon, steps=args.steps,
                                          step_size=args.step_size)
    settings.check()
    pixels = read_image(args.image)
    model = load_chosen_model(args, vizcore)
    if args.target is not None:
        settings = dataclasses.replace(settings, target=class_index_of(model.class_names, args.target))
    original = fit_to_model(pixels, model.spec.input_size)  # what the attack changes
    recorder, animated = _animation(args, 0, lambda update: change_frame(original, update.images[0]))
    result = adversarial.attack(model, pixels, settings, **animated)
    _write_outputs(args, picture=result.adversarial, array=result.adversarial)
    _write_animation(args, recorder)
    summary = {"model": model.spec.name, **result.summary()}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    before, after = result.original_class, result.adversarial_class
    verdict = "succeeded" if result.success else "failed"
    print(f"{settings.method.upper()} {adversarial.NORM_TITLES[settings.norm]} at epsilon {settings.epsilon_px:g} "
          f"{verdict} in {result.steps_done} step{'' if result.steps_done == 1 else 's'} ({result.seconds:.1f} s)")
    print(f"  before: {before.label} ({before.class_index}) {before.probability:.1%}")
    print(f"  after:  {after.label} ({after.class_index}) {after.probability:.1%}  (the saved PNG, decoded again)")
    if result.target is not None:
        print(f"  target: {result.target.label} ({result.target.class_index}) {result.target.probability:.1%}")
    print(f"  change: L-infinity {result.linf:g}, L2 {result.l2:.1f} pixel levels")

def _animation_path(text: str) -> str:
    """``--animate``'s argument: a .gif or .mp4 path (checked before any work)."""
    from vizcore.animation import format_of
    from vizcore.errors import VizcoreError

    try:
        format_of(text)
    except VizcoreError as error:
        sentence = str(error).rstrip(".")
        raise argparse.ArgumentTypeError(sentence[0].lower() + sentence[1:]) from None
    return text


def _add_animate_option(parser, what: str) -> None:
    parser.add_argument("--animate", default=None, metavar="PATH.gif|PATH.mp4", type=_animation_path,
                        help=f"write an animation of {what} (GIF, or MP4 with the mp4v codec)")


def _animation(args, steps: int, frame_of) -> tuple:
    """(a frame recorder, the run's keyword arguments that feed it) with ``--animate``; else (None, {}).

    ``frame_of(update)`` turns a run's progress update into an H x W x 3 uint8 frame (or None);
    ``steps`` sets how often an optimisation run sends a preview (0: the run's own pace).
    """
    if getattr(args, "animate", None) is None:
        return None, {}
    from vizcore import animation

    recorder = animation.FrameRecorder()
    animated = {"on_progress": animation.recording(recorder, frame_of)}
    if steps:
        animated["preview_every"] = animation.preview_every(steps)
    return recorder, animated


def _write_animation(args, recorder) -> None:
    from vizcore import animation
    from vizcore.errors import VizcoreError

    if recorder is None:
        return
    data = animation.Animation.of(recorder.frames()).encoded(animation.format_of(args.animate))
    try:
        with open(args.animate, "wb") as stream:
            stream.write(data)
    except OSError as error:
        raise VizcoreError(f"Could not write the animation ({error.strerror}: {error.filename}).") from None


def _add_report_parsers(methods) -> None:
    """``report`` (one self-contained HTML file) and ``rerun`` (recompute it from its provenance): vizcore/report.py."""
    from vizcore.report import DEFAULT_METHODS

    report = methods.add_parser("report", help="one self-contained HTML report: predictions, maps, faithfulness, provenance",
                                description="One HTML file that opens offline: the top classes, each method's map with "
                                            "its deletion and insertion areas, and the provenance vizcore rerun needs "
                                            "(the input image is embedded in it).")
    _add_image_argument(report)
    _add_model_options(report)
    _add_class_option(report)
    report.add_argument("--methods", default=",".join(DEFAULT_METHODS), metavar="LIST",
                        help="attribution methods, each with :option=value to change a default, e.g. "
                             f"gradcam,smoothgrad:samples=32:seed=1 (default {','.join(DEFAULT_METHODS)})")
    report.add_argument("--layer", default=None, metavar="NAME",
                        help="the CAM methods' layer (default: the model's Grad-CAM layer)")
    report.add_argument("--out", required=True, metavar="PATH.html", help="the report file")
    report.add_argument("--json", action="store_true", help="print a JSON summary on stdout")

    rerun = methods.add_parser("rerun", help="recompute a report from its provenance: do the numbers still match?",
                               description="Recompute every number of a vizcore report from its provenance block "
                                           "and compare (exit 1 when they differ beyond the stated tolerances).")
    rerun.add_argument("report", metavar="REPORT", help="an HTML file made by vizcore report or the app's Report button")
    rerun.add_argument("--model-file", default=None, metavar="PATH",
                       help="the model file, for a report made with one (its digest must match)")
    rerun.add_argument("--json", action="store_true", help='print {"match": ..., "differences": [...]} on stdout')


def run_report(args, vizcore) -> None:
    from dataclasses import replace

    from vizcore import report
    from vizcore.models.class_names import class_index_of

    check_model_choice(args, vizcore)
    requests = report.parse_methods(args.methods)
    if args.layer is not None:
        requests = [replace(request, layer=args.layer) if request.layer is None and
                    vizcore.attribution.METHOD_TABLE[request.method].needs_layer else request for request in requests]
    pixels = read_image(args.image)
    model = load_chosen_model(args, vizcore)
    class_index = None if args.class_name is None else class_index_of(model.class_names, args.class_name)
    image_name = args.image if args.image.startswith(SAMPLE_PREFIX) else os.path.basename(args.image)
    model_file = os.path.basename(args.model_file) if args.model_file else None
    entries = report.compute_entries(model, pixels, requests, class_index)
    page = report.report_html(model, pixels, entries, image_name=image_name, model_file=model_file)
    try:
        with open(args.out, "w", encoding="utf-8") as stream:
            stream.write(page)
    except OSError as error:
        raise vizcore.VizcoreError(f"Could not write the report ({error.strerror}: {error.filename}).") from None
    first = entries[0].result
    summary = {
        "out": args.out, "model": model.spec.name, "class_index": first.class_index, "label": first.label,
        "maps": [{"method": entry.request.method, "layer": entry.request.layer, "options": entry.request.option_values,
                  "deletion_area": entry.curves.deletion_area, "insertion_area": entry.curves.insertion_area}
                 for entry in entries],
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"Wrote {args.out}: {first.label} ({first.class_index}), {len(entries)} maps")
    for row in summary["maps"]:
        print(f"  {row['method']:<15} deletion area {row['deletion_area']:.3f}, insertion area {row['insertion_area']:.3f}")


def run_rerun(args, vizcore) -> int:
    from pathlib import Path

    from vizcore import report

    try:
        with open(args.report, "rb") as stream:
            data = stream.read(report.MAX_REPORT_BYTES + 1)
    except FileNotFoundError:
        raise vizcore.VizcoreError(f"There is no file at {args.report}.") from None
    except OSError as error:
        raise vizcore.VizcoreError(f"{args.report} could not be read ({error.strerror}).") from None
    record = report.read_provenance(data)
    model = record["model"]
    if args.model_file is not None:
        loaded = vizcore.load_model(Path(args.model_file), model["preprocessing"])
    elif model["source"] == "file":
        raise vizcore.VizcoreError(f"This report was made with the model file {model['file_name']!r}: "
                                   "give it with --model-file.")
    else:
        loaded = vizcore.load_model(model["name"])
    result = report.rerun(record, loaded)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(f"{'Match' if result.match else 'No match'}: {len(result.differences)} differences "
              f"(probabilities and areas within {report.SCORE_TOLERANCE:g}, map cells within {report.MAP_TOLERANCE:g})")
        for difference in result.differences:
            print(f"  {difference['what']}: report {difference['report']}, now {difference['now']}")
        for note in result.notes:
            print(f"  note: {note}")
    return 0 if result.match else EXIT_MISMATCH


def _add_embed_parser(methods) -> None:
    from vizcore.datasets.projection import METHODS

    embed = methods.add_parser("embed", help="an index's embeddings as a 2-D map (UMAP, t-SNE or PCA)")
    embed.add_argument("--index", required=True, metavar="DIR", help="an index made by vizcore index")
    # dest: "method" is the subcommand's own name (build_parser's dispatch key)
    embed.add_argument("--method", dest="map_method", default="umap", choices=METHODS,
                       help="how to map the embeddings (default umap)")
    embed.add_argument("--seed", type=int, default=0, metavar="S", help="the same seed gives the same map (default 0)")
    _add_output_options(embed, "the map as a scatter, one colour per label (or predicted class when unlabelled)",
                        "the map's N x 2 float32 coordinates, in the index's row order")


def run_embed(args, vizcore) -> None:
    from vizcore.datasets.projection import METHOD_TITLES, project, read_index_points, scatter_picture
    from vizcore.limits import MAX_MAP_FITTED_POINTS

    points = read_index_points(args.index)
    xy = project(points.embeddings, args.map_method, args.seed)
    labelled = any(label is not None for label in points.labels)
    colour = "label" if labelled else "predicted class"
    title = f"{METHOD_TITLES[args.map_method]} of {len(xy)} images, coloured by {colour}"
    picture = scatter_picture(xy, points.labels if labelled else points.predicted, title) if args.out else None
    _write_outputs(args, picture=picture, array=xy)
    fitted = len(xy) if args.map_method == "pca" else min(len(xy), MAX_MAP_FITTED_POINTS)
    if args.json:
        print(json.dumps({"method": args.map_method, "seed": args.seed, "points": len(xy), "fitted": fitted,
                          "out": args.out, "array": args.array}, indent=2))
        return
    print(f"{title}: fitted on {fitted}" + "".join(f", written to {path}" for path in (args.out, args.array) if path))


def _add_invert_parsers(methods) -> None:
    """``vizcore invert IMAGE``: feature inversion (vizcore/inversion.py)."""
    parser = methods.add_parser("invert", help="feature inversion: the image rebuilt from each layer's features alone",
                                description="Feature inversion (Mahendran & Vedaldi 2015): for each layer, an image "
                                            "optimised from noise until its features on that layer match the image's.")
    _add_image_argument(parser)
    _add_model_options(parser)
    parser.add_argument("--layers", default=None, metavar="L1,L2",
                        help="layers to invert, shallow to deep (default: the model's explorer layers)")
    parser.add_argument("--steps", type=int, default=200, metavar="N", help="optimisation steps (default 200)")
    parser.add_argument("--size", type=int, default=128, metavar="PX",
                        help="side of the centre-cropped image and its reconstructions (default 128)")
    parser.add_argument("--tv-weight", type=float, default=0.25, metavar="W",
                        help="total-variation prior, higher is smoother (default 0.25)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    _add_output_options(parser, "the original and each layer's reconstruction, side by side",
                        "the reconstructions, N x PX x PX x 3 uint8")


def run_invert(args, vizcore) -> None:
    from vizcore import inversion, viz

    check_model_choice(args, vizcore)
    settings = inversion.InversionSettings(steps=args.steps, size=args.size, tv_weight=args.tv_weight, seed=args.seed)
    settings.check()
    layers = [name.strip() for name in args.layers.split(",") if name.strip()] if args.layers else None
    pixels = read_image(args.image)
    model = load_chosen_model(args, vizcore)
    result = inversion.invert_features(model, pixels, layers, settings)
    _write_outputs(args, picture=viz.side_by_side([result.original, *result.images]), array=result.images)
    if args.json:
        print(json.dumps({"model": model.spec.name, **result.summary()}, indent=2))
        return
    print(f"Inverted {len(result.layers)} layers in {result.steps_done} steps, {result.seconds:.1f} s "
          "(feature distance 1.0 is as far as all zeros; correlation with the image's pixels)")
    for row in result.summary()["layers"]:
        print(f"  {row['layer']:<24} feature distance {row['initial_feature_distance']:.3f} -> "
              f"{row['feature_distance']:.3f}  correlation {row['correlation']:+.3f}")


def _add_texture_parsers(methods) -> None:
    """``vizcore texture IMAGE``: texture synthesis (vizcore/texture.py)."""
    parser = methods.add_parser("texture", help="texture synthesis: a new texture of any size in the look of IMAGE",
                                description="Texture synthesis (Gatys et al. 2015): an image grown from noise until its "
                                            "Gram matrices on the model's style layers match those of IMAGE.")
    _add_image_argument(parser)
    _add_model_options(parser)
    parser.add_argument("--size", type=int, default=256, metavar="PX", help="side of the new, square texture (default 256)")
    parser.add_argument("--source-size", type=int, default=256, metavar="PX",
                        help="IMAGE's longer side as it is read: the patterns' scale (default 256)")
    parser.add_argument("--steps", type=int, default=200, metavar="N", help="optimisation steps (default 200)")
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    _add_output_options(parser, "the new texture", "the new texture as PX x PX x 3 uint8")


def run_texture(args, vizcore) -> None:
    from vizcore import texture

    check_model_choice(args, vizcore)
    settings = texture.TextureSettings(size=args.size, source_size=args.source_size, steps=args.steps, seed=args.seed)
    settings.check()
    pixels = read_image(args.image)
    model = load_chosen_model(args, vizcore)
    result = texture.synthesise_texture(model, pixels, settings)
    _write_outputs(args, picture=result.image, array=result.image)
    if args.json:
        print(json.dumps({"model": model.spec.name, **result.summary()}, indent=2))
        return
    print(f"A {args.size} px texture in {result.steps_done} steps, {result.seconds:.1f} s: Gram distance "
          f"{result.initial_gram_distance:.3f} -> {result.gram_distance:.3f} (1.0 is as far as all zeros)")


def _add_serve_parsers(methods) -> None:
    """``vizcore serve-models``: the Ray Serve backend of VIZCORE_BACKEND=ray (vizcore/serving.py)."""
    parser = methods.add_parser(
        "serve-models", help="serve models on a running Ray cluster for apps started with VIZCORE_BACKEND=ray",
        description="Deploy vizcore's model workers as a Ray Serve application on the Ray cluster at RAY_ADDRESS "
                    "(default: the one `ray start --head` started on this machine); it keeps serving after this "
                    "command returns, until `serve shutdown` or the cluster stops.")
    parser.add_argument("--models", default="efficientnet_lite0", metavar="M1,M2",
                        help="built-in models every worker loads (default efficientnet_lite0)")
    parser.add_argument("--replicas", type=int, default=1, metavar="N", help="model workers (default 1)")
    parser.add_argument("--cpus-per-replica", type=float, default=1.0, metavar="C",
                        help="CPUs each worker holds (default 1)")
    parser.add_argument("--gpus-per-replica", type=float, default=0.0, metavar="G",
                        help="GPUs each worker holds, 1 for one GPU each (default 0)")


def run_serve_models(args, vizcore) -> None:
    from vizcore import serving

    names = tuple(name.strip() for name in args.models.split(",") if name.strip())
    for name in names:
        vizcore.get_spec(name)  # an unknown name fails here, with the list of models
    if args.replicas < 1:
        raise vizcore.VizcoreError(f"--replicas must be at least 1, not {args.replicas}.")
    serving.connect_cluster()
    serving.deploy(names, args.replicas, args.cpus_per_replica, args.gpus_per_replica)
    print(f"Serving {', '.join(names)} on {args.replicas} worker(s): start the app with {serving.BACKEND_VARIABLE}=ray.")


RUNNERS = {
    "models": run_models,
    "layers": run_layers,
    "predict": run_predict,
    "activations": run_activations,
    "filters": run_filters,
    "dream": run_dream,
    "style": run_style,
    "sanity": run_sanity,
    "index": run_index,
    "neighbours": run_neighbours,
    "patches": run_patches,
    "embed": run_embed,
    "report": run_report,
    "rerun": run_rerun,
    "attack": run_attack,
    "invert": run_invert,
    "texture": run_texture,
    "serve-models": run_serve_models,
}


def main(argv: list[str] | None = None) -> int:
    debug = os.environ.get("VIZCORE_DEBUG") == "1"
    if not debug:  # library warnings (Pillow on a damaged TIFF, say) would break the one-sentence stderr
        warnings.simplefilter("ignore")
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as error:
        print(error, file=sys.stderr)
        return EXIT_USER_ERROR
    vizcore = _import_vizcore()
    try:
        status = RUNNERS.get(args.method, run_attribution)(args, vizcore)  # the rest are the method table's methods
    except vizcore.VizcoreError as error:
        if debug:
            raise
        print(error, file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `vizcore layers | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush does not fail again
        return EXIT_INTERNAL_ERROR
    except Exception as error:  # the last line of defence: a bug still gets one sentence
        if debug:
            raise
        print(
            f"vizcore hit an internal error ({type(error).__name__}: {error}); rerun with VIZCORE_DEBUG=1 for details.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL_ERROR
    return status if isinstance(status, int) else 0  # a runner may return a status: rerun's 1 for a mismatch
