"""Regenerate cliff/data/keypoints.json: COCO-17 body keypoints of the bundled demo photos,
produced by a real detector (MediaPipe Pose, run once; the JSON is committed).

MediaPipe pins numpy<2, so it runs in its own throwaway environment, never in cliff's:

    python3 -m venv /tmp/mp
    /tmp/mp/bin/python -m pip install mediapipe==0.10.21 pillow
    /tmp/mp/bin/python tools/make_demo_keypoints.py            # writes cliff/data/keypoints.json

The pose model (``pose_landmark_full.tflite``, model_complexity=1) ships inside the mediapipe
wheel: nothing is downloaded. MediaPipe Pose finds one person per image, which is what the
three bundled photos hold. Its 33 landmarks are mapped to the 17 COCO keypoints by name
(mediapipe.solutions.pose.PoseLandmark: NOSE, LEFT_EYE, ..., RIGHT_ANKLE; the person's own left
and right, like COCO); the normalised coordinates are scaled to pixels and each landmark's
``visibility`` (a probability in [0, 1]) becomes the keypoint's confidence. The file is a
COCO-style keypoints JSON that ``cliff.annotate.keypoints.load_keypoint_file`` reads.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(os.path.dirname(HERE), "cliff", "data")
PHOTOS = ("astronaut.jpg", "cameraman.jpg", "grace_hopper.jpg")
# COCO-17 order (cliff.annotate.keypoints.COCO17_NAMES); the same names in MediaPipe's enum.
COCO17 = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
          "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
          "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", default=os.path.join(DATA, "keypoints.json"))
    args = ap.parse_args(argv)
    import mediapipe as mp
    import numpy as np
    from PIL import Image

    lm = mp.solutions.pose.PoseLandmark
    index = [lm[n.upper()].value for n in COCO17]
    images, annotations = [], []
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
        for i, name in enumerate(PHOTOS):
            rgb = np.asarray(Image.open(os.path.join(DATA, name)).convert("RGB"))
            h, w = rgb.shape[:2]
            images.append({"id": i, "file_name": name, "width": w, "height": h})
            res = pose.process(rgb)
            if res.pose_landmarks is None:
                print(f"{name}: no person found", file=sys.stderr)
                continue
            pts = res.pose_landmarks.landmark
            kp = []
            for k in index:
                p = pts[k]
                kp += [round(p.x * w, 2), round(p.y * h, 2), round(float(p.visibility), 4)]
            annotations.append({"id": len(annotations), "image_id": i, "category_id": 1,
                                "num_keypoints": len(COCO17), "keypoints": kp})
            print(f"{name}: {w}x{h}, mean visibility "
                  f"{np.mean([pts[k].visibility for k in index]):.2f}", file=sys.stderr)
    out = {
        "info": {"description": "COCO-17 keypoints of cliff's demo photos",
                 "detector": f"MediaPipe Pose {mp.__version__} (pose_landmark_full, "
                             "static_image_mode), landmark visibility as confidence",
                 "made_by": "tools/make_demo_keypoints.py"},
        "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17)}],
        "images": images,
        "annotations": annotations,
    }
    with open(args.output, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {args.output}: {len(annotations)} people in {len(images)} images", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
