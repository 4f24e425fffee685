#!/usr/bin/env python3
"""Samples the concept world from a training checkpoint (EMA weights) with DDIM and classifier-free
guidance, into a PNG grid: one row per prompt, one column per seed. For watching a run.
  python3 tools/concept-world/sample.py --out tools/concept-world/out [--prompts "a photo of the cat,..."] [--seeds 8]"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from concept_world.png import grid, write_png  # noqa: E402
from train import Run, noise_schedule  # noqa: E402
from concept_world.models import ClipTextModel, UNet2DConditionModel  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', required=True)
    parser.add_argument('--config', default='full')
    parser.add_argument('--prompts', default='a photo of the cat,a photo of the dog,an illustration of a kitty,a neon image showing a horse,a pixel art image showing a ship,a pencil sketch image showing a frog,there is a truck here,')
    parser.add_argument('--seeds', type=int, default=8)
    parser.add_argument('--steps', type=int, default=20)
    parser.add_argument('--guidance', type=float, default=7.5)
    parser.add_argument('--file', default='samples.png')
    parser.add_argument('--live', action='store_true', help='the live weights instead of the EMA')
    args = parser.parse_args()
    torch.set_num_threads(1)
    run = Run(args.out, args.config)
    state = run.load_state('unet')
    text = ClipTextModel(run.text_config())
    text.load_state_dict(state['text' if args.live else 'ema_text'])
    unet = UNet2DConditionModel(run.unet_config())
    unet.load_state_dict(state['unet' if args.live else 'ema_unet'])
    vae = run.trained_vae()
    scaling = torch.load(run.path('ckpt', 'latents.pt'))['scaling_factor']
    prompts = args.prompts.split(',')
    alphas = noise_schedule()
    timesteps = list(range(999, -1, -1000 // args.steps))[:args.steps]
    images = []
    with torch.no_grad():
        empty = text(torch.tensor([run.tokenizer.encode('')]))
        for prompt in prompts:
            cond = text(torch.tensor([run.tokenizer.encode(prompt)]))
            gen = torch.Generator().manual_seed(0)
            x = torch.randn(args.seeds, 4, 8, 8, generator=gen)
            context = torch.cat([empty.expand(args.seeds, -1, -1), cond.expand(args.seeds, -1, -1)])
            for i, t in enumerate(timesteps):
                eps_u, eps_c = unet(torch.cat([x, x]), torch.full((2 * args.seeds,), t), context).chunk(2)
                eps = eps_u + args.guidance * (eps_c - eps_u)
                a = alphas[t]
                a_prev = alphas[timesteps[i + 1]] if i + 1 < len(timesteps) else torch.tensor(1.0)
                x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
                x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
            images.append(vae.decode(x / scaling).clamp(-1, 1) * 0.5 + 0.5)
    write_png(run.path(args.file), grid(torch.cat(images), args.seeds))
    print(f'step {state["step"]}: {run.path(args.file)}')


if __name__ == '__main__':
    main()
