"""The words of Help > Guide: one screen per wizard step, and what the result numbers mean.

Plain data (no widgets), so the guide's text is read, reviewed and translated in one place.
Each step names a picture file in transfer_gui/resources/guide/; the dialog shows it when the
file is there and does without it when it is not.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GuideScreen:
    """One screen of the guide: a title, a few plain sentences, and an optional picture."""

    title: str
    text: str
    picture: str = ""  # a file name in transfer_gui/resources/guide/, "" for none


STEPS: tuple[GuideScreen, ...] = (
    GuideScreen(
        "1. Data: your images",
        "Put the images of each class in a folder of its own (for example healthy/ and "
        "diseased/), all inside one folder, and choose that folder. The page counts the images "
        "of each class, sets some aside to check the model, and lists files it cannot read. "
        "Aim for at least 50 images per class; more is better.",
        "1-data.png"),
    GuideScreen(
        "2. Model: a pretrained network",
        "Pick the network that looks at your images. It was trained on millions of everyday "
        "photos and already knows edges, textures and shapes; you only teach it your classes. "
        "The recommended one is fast on a laptop. Start with feature extraction: it is quick "
        "and often good enough.",
        "2-model.png"),
    GuideScreen(
        "3. Settings: how to train",
        "The defaults suit each way of training, so you can usually go straight on. Hover over "
        "a setting to see what it does. Change one thing at a time, and compare the runs "
        "afterwards (File > Compare runs).",
        "3-settings.png"),
    GuideScreen(
        "4. Train: watch it learn",
        "Press Start. The curves show how often the model is right on the training images and "
        "on the images set aside. Stop keeps the best model so far. Feature extraction takes "
        "about a minute for a few hundred images; fine-tuning takes longer.",
        "4-train.png"),
    GuideScreen(
        "5. Results: how good is it?",
        "The headline says how many of the set-aside images the model got right. The table "
        "shows which classes it confuses; click a cell to see those images. If one class is "
        "often wrong, look at its images: are they mislabelled, or too few?",
        "5-results.png"),
    GuideScreen(
        "6. Predict: use it",
        "Add new images or a whole folder to see the predicted class and how sure the model "
        "is. Rows below the confidence threshold are flagged for a closer look. Double-click a "
        "row to see which part of the image the model looked at. Export CSV saves the table.",
        "7-predict.png"),
)

NUMBERS_TITLE = "What do these numbers mean?"

NUMBERS: tuple[tuple[str, str], ...] = (
    ("Accuracy",
     "The share of the held-out images the model classified correctly: 95% means 19 of "
     "every 20."),
    ("95% interval",
     "With few images, accuracy is uncertain: the true accuracy on new images of the same kind "
     "lies in this range 19 times out of 20. More images make the range narrower."),
    ("Balanced accuracy",
     "The average of each class's accuracy, so a large class cannot hide a class the model "
     "gets wrong. Far below the accuracy means some class is poorly recognised."),
    ("Precision",
     "For one class: of the images the model called this class, the share that really are. "
     "Low precision means false alarms."),
    ("Recall",
     "For one class: of the images that really are this class, the share the model found. "
     "Low recall means missed cases."),
    ("Macro-F1",
     "F1 combines a class's precision and recall into one number (high only when both are); "
     "macro-F1 averages it over the classes, from 0 (useless) to 1 (perfect)."),
    ("Confusion matrix",
     "A table of true class (rows) against predicted class (columns). The diagonal holds the "
     "correct answers; every other cell counts one kind of mistake."),
    ("Validation and test images",
     "Both are set aside and never trained on. Validation images choose the best epoch during "
     "training; test images are looked at only once, at the end, so they give the fairest "
     "estimate of how the model does on new images."),
)
