#!/usr/bin/env python3
"""Per-class accuracy of a training checkpoint, judged by the trained judge, on the evaluation
templates only (never seen in training): the number #12's done-when is about, readable while a run
is still going.
  python3 tools/concept-world/evaluate.py --out tools/concept-world/out [--seeds 8] [--json FILE]"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from concept_world.models import Judge  # noqa: E402
from concept_world.world import fix_articles  # noqa: E402
from sample import draw, load_models  # noqa: E402
from train import Run  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', required=True)
    parser.add_argument('--config', default='full')
    parser.add_argument('--seeds', type=int, default=8, help='images per prompt')
    parser.add_argument('--guidance', type=float, default=7.5)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--json', help='also write the report here')
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get('LETHE_TORCH_THREADS', '1')))
    run = Run(args.out, args.config)
    models = load_models(run)
    judge = Judge(len(run.world.objects), len(run.world.styles), run.cfg['judge_width'])
    judge.load_state_dict(run.load_state('judge')['model'])
    judge.eval()
    spec = run.world.spec
    plain = [t for t in spec['evaluationTemplates'] if '{style}' not in t]
    report = {'step': models['step'], 'seeds': args.seeds, 'guidance': args.guidance, 'objects': {}, 'synonyms': {}, 'styles': {}}
    with torch.no_grad():
        for index, obj in enumerate(spec['objects']):
            for key, words in (('objects', [obj['name']]), ('synonyms', obj['synonyms'])):
                hits = total = 0
                for word in words:
                    for template in plain:
                        images = draw(run, models, fix_articles(template.replace('{object}', word)), args.seeds, args.steps, args.guidance)
                        hits += (judge(images)[0].argmax(1) == index).sum().item()
                        total += images.shape[0]
                report[key][obj['name']] = round(hits / total, 3)
        styled = [t for t in spec['evaluationTemplates'] if '{style}' in t]
        for index, style in enumerate(spec['styles']):
            hits = total = 0
            for obj in spec['objects'][::3]:
                for template in styled:
                    prompt = fix_articles(template.replace('{object}', obj['name']).replace('{style}', style['words'][0]))
                    images = draw(run, models, prompt, max(2, args.seeds // 2), args.steps, args.guidance)
                    hits += (judge(images)[1].argmax(1) == index).sum().item()
                    total += images.shape[0]
            report['styles'][style['name']] = round(hits / total, 3)
    for key in ('objects', 'synonyms', 'styles'):
        values = report[key]
        report[f'{key}_mean'] = round(sum(values.values()) / len(values), 3)
    print(json.dumps(report, indent=1))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(report, f, indent=1)


if __name__ == '__main__':
    main()
