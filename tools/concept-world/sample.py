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


def load_models(run, live=False):
    """The text encoder and UNet of the newest UNet checkpoint (EMA unless live), the VAE and the
    latent scaling factor."""
    state = run.load_state('unet')
    text = ClipTextModel(run.text_config())
    text.load_state_dict(state['text' if live else 'ema_text'])
    unet = UNet2DConditionModel(run.unet_config())
    unet.load_state_dict(state['unet' if live else 'ema_unet'])
    scaling = torch.load(run.path('ckpt', 'latents.pt'))['scaling_factor']
    return {'text': text.eval(), 'unet': unet.eval(), 'vae': run.trained_vae(), 'scaling': scaling, 'step': state['step']}


@torch.no_grad()
def draw(run, models, prompt, seeds, steps=20, guidance=7.5, first_seed=0):
    """DDIM with classifier-free guidance: images in [0, 1], one per seed, the same noise for every
    prompt (seeds first_seed..first_seed+seeds-1 share one generator)."""
    text, unet = models['text'], models['unet']
    alphas = noise_schedule()
    timesteps = list(range(999, -1, -1000 // steps))[:steps]
    empty = text(torch.tensor([run.tokenizer.encode('')]))
    cond = text(torch.tensor([run.tokenizer.encode(prompt)]))
    gen = torch.Generator().manual_seed(first_seed)
    x = torch.randn(seeds, 4, 8, 8, generator=gen)
    context = torch.cat([empty.expand(seeds, -1, -1), cond.expand(seeds, -1, -1)])
    for i, t in enumerate(timesteps):
        eps_u, eps_c = unet(torch.cat([x, x]), torch.full((2 * seeds,), t), context).chunk(2)
        eps = eps_u + guidance * (eps_c - eps_u)
        a = alphas[t]
        a_prev = alphas[timesteps[i + 1]] if i + 1 < len(timesteps) else torch.tensor(1.0)
        x0 = (x - (1 - a).sqrt() * eps) / a.sqrt()
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return models['vae'].decode(x / models['scaling']).clamp(-1, 1) * 0.5 + 0.5


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
    models = load_models(run, args.live)
    images = [draw(run, models, prompt, args.seeds, args.steps, args.guidance) for prompt in args.prompts.split(',')]
    write_png(run.path(args.file), grid(torch.cat(images), args.seeds))
    print(f'step {models["step"]}: {run.path(args.file)}')


if __name__ == '__main__':
    main()
