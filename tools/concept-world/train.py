#!/usr/bin/env python3
"""Trains the concept world: VAE, then text encoder + UNet on noise prediction (caption dropout),
and the judge; exports a diffusers repo and the judge's ONNX. Seeded, checkpointed, resumable:
every stage saves its state every few minutes and a finished stage is skipped on the next run.

  python3 tools/concept-world/train.py --out tools/concept-world/out [--config full|smoke] [--stage all|data|vae|encode|unet|judge|export]
      [--init-from public/concept-world/diffusers] [--class-weights bird=2,cat=2] [--style-weights 'pencil sketch=2']

--init-from starts the VAE, text encoder and UNet from a trained diffusers repo of the same config
(a fine-tune after the world changed) and keeps its latent scaling factor, so the UNet's latents
mean what they meant. --class-weights / --style-weights draw the UNet's training images of those
classes / styles more often. LETHE_{VAE,UNET,JUDGE}_STEPS, LETHE_{VAE,UNET}_LR, LETHE_MIN_SNR and
LETHE_CAPTION_NOISE override the config; the shipped model's legs are in public/concept-world/training.json.

Needs out/glyphs.* (node tools/concept-world/render-glyphs.mjs) and out/diffusers/tokenizer
(node bin/run-ts.mjs tools/concept-world/make-tokenizer.ts). Runs one CPU thread per process:
on 2 shared cores OpenMP's spinning threads cost far more than they give."""
import argparse
import copy
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from concept_world import safetensors_io  # noqa: E402
from concept_world.clip_bpe import ClipBpe  # noqa: E402
from concept_world.models import AutoencoderKL, ClipTextModel, Judge, UNet2DConditionModel  # noqa: E402
from concept_world.png import grid, write_png  # noqa: E402
from concept_world.world import World, insert_noise_words, noise_word_pool  # noqa: E402

CONFIGS = {
    'full': {
        'text': {'hidden_size': 64, 'num_attention_heads': 4, 'num_hidden_layers': 3, 'intermediate_size': 256},
        'unet': {'block_out_channels': [32, 64, 64, 64], 'attention_head_dim': 4, 'norm_num_groups': 8},
        'vae': {'block_out_channels': [16, 32, 64, 64], 'layers_per_block': 1, 'norm_num_groups': 8},
        'images': 30000, 'vae_steps': 1000, 'vae_batch': 32, 'unet_steps': 3500, 'unet_batch': 48,
        'judge_steps': 900, 'judge_batch': 64, 'judge_width': 24, 'save_every_s': 180, 'caption_noise': 0.3,
    },
    'smoke': {
        'text': {'hidden_size': 16, 'num_attention_heads': 2, 'num_hidden_layers': 1, 'intermediate_size': 32},
        'unet': {'block_out_channels': [8, 16, 16, 16], 'attention_head_dim': 2, 'norm_num_groups': 4},
        'vae': {'block_out_channels': [8, 8, 16, 16], 'layers_per_block': 1, 'norm_num_groups': 4},
        'images': 64, 'vae_steps': 3, 'vae_batch': 8, 'unet_steps': 3, 'unet_batch': 8,
        'judge_steps': 3, 'judge_batch': 8, 'judge_width': 4, 'save_every_s': 0, 'caption_noise': 0.5,
    },
}
SEEDS = {'data': 1, 'vae': 2, 'unet': 3, 'judge': 4, 'judge_eval': 5, 'parity': 6}


class Run:
    def __init__(self, out, config_name, init_from=None, class_weights=None, style_weights=None):
        self.out = out
        self.cfg = dict(CONFIGS[config_name])
        for stage in ('vae', 'unet', 'judge'):
            if os.environ.get(f'LETHE_{stage.upper()}_STEPS'):
                # Extends (or shortens) a resumed run: the cosine schedule is a function of step/steps,
                # so a longer total lifts the learning rate again from where the run stopped.
                self.cfg[f'{stage}_steps'] = int(os.environ[f'LETHE_{stage.upper()}_STEPS'])
        self.init_from = init_from
        self.class_weights = class_weights or {}
        self.style_weights = style_weights or {}
        self.config_name = config_name
        self.world = World(out)
        for kind, weights, names in (('class', self.class_weights, self.world.objects), ('style', self.style_weights, self.world.styles)):
            unknown = sorted(set(weights) - set(names))
            if unknown:
                raise SystemExit(f'--{kind}-weights: no {kind} named {", ".join(unknown)}; they are {", ".join(names)}')
        self.tokenizer = ClipBpe(os.path.join(out, 'diffusers', 'tokenizer'))
        os.makedirs(self.path('ckpt'), exist_ok=True)
        os.makedirs(self.path('log'), exist_ok=True)

    def path(self, *parts):
        return os.path.join(self.out, *parts)

    def done(self, stage):
        return os.path.exists(self.path('ckpt', f'{stage}.done'))

    def mark_done(self, stage, summary):
        with open(self.path('ckpt', f'{stage}.done'), 'w') as f:
            json.dump(summary, f, indent=1)

    def log(self, stage, record):
        with open(self.path('log', f'{stage}.jsonl'), 'a') as f:
            f.write(json.dumps(record) + '\n')
        print(stage, json.dumps(record), flush=True)

    # -------------------------------------------------------------- model configs (diffusers)

    def text_config(self):
        c = self.cfg['text']
        return {
            '_name_or_path': 'lethe/concept-world', 'architectures': ['CLIPTextModel'], 'attention_dropout': 0.0,
            'bos_token_id': self.tokenizer.bos, 'eos_token_id': self.tokenizer.eos, 'pad_token_id': 1,
            'hidden_act': 'quick_gelu', 'hidden_size': c['hidden_size'], 'initializer_factor': 1.0, 'initializer_range': 0.02,
            'intermediate_size': c['intermediate_size'], 'layer_norm_eps': 1e-5, 'max_position_embeddings': 77,
            'model_type': 'clip_text_model', 'num_attention_heads': c['num_attention_heads'],
            'num_hidden_layers': c['num_hidden_layers'], 'projection_dim': c['hidden_size'], 'torch_dtype': 'float32',
            'vocab_size': len(self.tokenizer.vocab),
        }

    def unet_config(self):
        c = self.cfg['unet']
        return {
            '_class_name': 'UNet2DConditionModel', '_diffusers_version': '0.30.0', 'act_fn': 'silu',
            'attention_head_dim': c['attention_head_dim'], 'block_out_channels': c['block_out_channels'],
            'center_input_sample': False, 'cross_attention_dim': self.cfg['text']['hidden_size'],
            'down_block_types': ['CrossAttnDownBlock2D'] * 3 + ['DownBlock2D'], 'downsample_padding': 1,
            'flip_sin_to_cos': True, 'freq_shift': 0, 'in_channels': 4, 'layers_per_block': 2, 'mid_block_scale_factor': 1,
            'norm_eps': 1e-5, 'norm_num_groups': c['norm_num_groups'], 'out_channels': 4, 'sample_size': 8,
            'up_block_types': ['UpBlock2D'] + ['CrossAttnUpBlock2D'] * 3, 'use_linear_projection': False,
        }

    def vae_config(self, scaling_factor=0.18215):
        c = self.cfg['vae']
        n = len(c['block_out_channels'])
        return {
            '_class_name': 'AutoencoderKL', '_diffusers_version': '0.30.0', 'act_fn': 'silu',
            'block_out_channels': c['block_out_channels'], 'down_block_types': ['DownEncoderBlock2D'] * n,
            'in_channels': 3, 'latent_channels': 4, 'layers_per_block': c['layers_per_block'],
            'norm_num_groups': c['norm_num_groups'], 'out_channels': 3, 'sample_size': 64,
            'scaling_factor': scaling_factor, 'up_block_types': ['UpDecoderBlock2D'] * n,
        }

    # -------------------------------------------------------------- checkpoints

    def save_state(self, stage, state):
        tmp = self.path('ckpt', f'{stage}.pt.tmp')
        torch.save(state, tmp)
        os.replace(tmp, self.path('ckpt', f'{stage}.pt'))

    def restore(self, stage, modules, opt, gen):
        """Resumes a stage from its checkpoint, if any: weights, optimizer, RNG; (step, seconds so far)."""
        state = self.load_state(stage)
        if not state:
            return 0, 0.0
        for key, module in modules.items():
            module.load_state_dict(state[key])
        opt.load_state_dict(state['opt'])
        gen.set_state(state['rng'])
        return state['step'], state['elapsed']

    def load_state(self, stage):
        p = self.path('ckpt', f'{stage}.pt')
        return torch.load(p) if os.path.exists(p) else None

    def load_initial(self, module, component):
        """Copies a component's weights from --init-from (fp16 in the repo, fp32 here); a no-op
        without it. Only for a fresh stage: restore() then overrides it with the stage's checkpoint."""
        if not self.init_from:
            return
        name = 'model.safetensors' if component == 'text_encoder' else 'diffusion_pytorch_model.safetensors'
        weights = safetensors_io.load(os.path.join(self.init_from, component, name))
        module.load_state_dict({k: v.float() for k, v in weights.items()})

    def initial_scaling_factor(self):
        with open(os.path.join(self.init_from, 'vae', 'config.json')) as f:
            return json.load(f)['scaling_factor']

    # -------------------------------------------------------------- stages

    def stage_data(self):
        """The diffusion training set: rendered once (uint8) with its attributes."""
        gen = torch.Generator().manual_seed(SEEDS['data'])
        n, chunk = self.cfg['images'], 500
        images, attrs = [], []
        t0 = time.time()
        for start in range(0, n, chunk):
            a = self.world.sample_attributes(min(chunk, n - start), gen)
            images.append((self.world.render(a, gen) * 255).round().byte())
            attrs.append(a)
        attrs = {k: torch.cat([a[k] for a in attrs]) for k in attrs[0]}
        torch.save({'images': torch.cat(images), 'attrs': attrs}, self.path('ckpt', 'data.pt'))
        write_png(self.path('data-sample.png'), grid(torch.cat(images)[:80].float() / 255, 10))
        self.mark_done('data', {'images': n, 'seconds': round(time.time() - t0, 1)})

    def stage_vae(self):
        data = torch.load(self.path('ckpt', 'data.pt'))['images']
        vae = AutoencoderKL(self.vae_config())
        self.load_initial(vae, 'vae')
        peak_lr = float(os.environ.get('LETHE_VAE_LR', '1e-3'))
        opt = torch.optim.AdamW(vae.parameters(), lr=peak_lr, weight_decay=0.0)
        gen = torch.Generator().manual_seed(SEEDS['vae'])
        step, elapsed = self.restore('vae', {'model': vae}, opt, gen)
        steps, batch = self.cfg['vae_steps'], self.cfg['vae_batch']
        last_save, t0 = time.time(), time.time() - elapsed
        loss = None
        while step < steps:
            lr = peak_lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
            for g in opt.param_groups:
                g['lr'] = lr
            idx = torch.randint(data.shape[0], (batch,), generator=gen)
            x = data[idx].float() / 127.5 - 1
            mean, logvar = vae.encode(x)
            z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen)
            y = vae.decode(z)
            kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
            loss = (y - x).abs().mean() + ((y - x) ** 2).mean() + 1e-4 * kl
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 20 == 0 or step == steps:
                self.log('vae', {'step': step, 'loss': round(loss.item(), 5), 'kl': round(kl.item(), 4), 'lr': lr, 'wall_s': round(time.time() - t0, 1)})
            if time.time() - last_save > self.cfg['save_every_s'] or step == steps:
                self.save_state('vae', {'model': vae.state_dict(), 'opt': opt.state_dict(), 'rng': gen.get_state(), 'step': step, 'elapsed': time.time() - t0})
                last_save = time.time()
        if not os.path.exists(self.path('ckpt', 'vae.pt')):  # zero steps: the initial weights are the result
            self.save_state('vae', {'model': vae.state_dict(), 'opt': opt.state_dict(), 'rng': gen.get_state(), 'step': step, 'elapsed': 0.0})
        with torch.no_grad():
            x = data[:40].float() / 127.5 - 1
            y = vae.decode(vae.encode(x)[0])
        write_png(self.path('vae-reconstructions.png'), grid(torch.cat([x, y.clamp(-1, 1)]) * 0.5 + 0.5, 10))
        self.mark_done('vae', {'steps': step, 'seconds': round(time.time() - t0, 1), 'final_loss': loss.item() if loss is not None else None})

    def trained_vae(self):
        vae = AutoencoderKL(self.vae_config())
        vae.load_state_dict(self.load_state('vae')['model'])
        return vae.eval()

    def stage_encode(self):
        data = torch.load(self.path('ckpt', 'data.pt'))
        vae = self.trained_vae()
        latents = []
        t0 = time.time()
        with torch.no_grad():
            for start in range(0, data['images'].shape[0], 256):
                latents.append(vae.encode(data['images'][start:start + 256].float() / 127.5 - 1)[0])
        latents = torch.cat(latents)
        # A fine-tune keeps the scaling factor its UNet was trained with.
        scaling = self.initial_scaling_factor() if self.init_from else 1.0 / latents.std().item()
        torch.save({'latents': latents, 'attrs': data['attrs'], 'scaling_factor': scaling}, self.path('ckpt', 'latents.pt'))
        self.mark_done('encode', {'scaling_factor': scaling, 'seconds': round(time.time() - t0, 1)})

    def stage_unet(self):
        data = torch.load(self.path('ckpt', 'latents.pt'))
        latents, attrs = data['latents'] * data['scaling_factor'], data['attrs']
        torch.manual_seed(SEEDS['unet'])
        text = ClipTextModel(self.text_config() | {'hidden_act': 'quick_gelu', 'layer_norm_eps': 1e-5})
        unet = UNet2DConditionModel(self.unet_config())
        self.load_initial(text, 'text_encoder')
        self.load_initial(unet, 'unet')
        ema_text, ema_unet = copy.deepcopy(text), copy.deepcopy(unet)
        params = list(text.parameters()) + list(unet.parameters())
        peak_lr = float(os.environ.get('LETHE_UNET_LR', '4e-4'))
        min_snr = float(os.environ.get('LETHE_MIN_SNR', '0'))
        opt = torch.optim.AdamW(params, lr=peak_lr, weight_decay=0.01)
        gen = torch.Generator().manual_seed(SEEDS['unet'])
        step, elapsed = self.restore('unet', {'text': text, 'unet': unet, 'ema_text': ema_text, 'ema_unet': ema_unet}, opt, gen)
        alphas_cumprod = noise_schedule()
        steps, batch = self.cfg['unet_steps'], self.cfg['unet_batch']
        last_save, t0 = time.time(), time.time() - elapsed
        running = None
        noise_words = noise_word_pool(self.tokenizer.vocab, self.world.spec)
        caption_noise = float(os.environ.get('LETHE_CAPTION_NOISE', self.cfg['caption_noise']))
        image_weights = torch.tensor([self.class_weights.get(self.world.objects[c], 1.0) * self.style_weights.get(self.world.styles[s], 1.0)
                                      for c, s in zip(attrs['class'].tolist(), attrs['style'].tolist())])
        while step < steps:
            warm = min(1.0, (step + 1) / 100)
            lr = peak_lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / steps)))
            for g in opt.param_groups:
                g['lr'] = lr
            # Unweighted runs keep randint, so a from-scratch run draws what the original model drew.
            if self.class_weights or self.style_weights:
                idx = torch.multinomial(image_weights, batch, replacement=True, generator=gen)
            else:
                idx = torch.randint(latents.shape[0], (batch,), generator=gen)
            captions = [insert_noise_words(self.world.caption(attrs, i, gen), noise_words, caption_noise, gen) for i in idx.tolist()]
            ids = torch.tensor([self.tokenizer.encode(c) for c in captions])
            x0 = latents[idx]
            t = torch.randint(1000, (batch,), generator=gen)
            noise = torch.randn(x0.shape, generator=gen)
            a = alphas_cumprod[t][:, None, None, None]
            xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
            pred = unet(xt, t, text(ids))
            if min_snr:
                # Min-SNR-gamma weighting (Hang et al. 2023): low-noise steps, which teach fine
                # detail, stop drowning out the mid-noise steps that teach shape and class.
                snr = a[:, 0, 0, 0] / (1 - a[:, 0, 0, 0])
                weight = torch.clamp(snr, max=min_snr) / snr
                loss = (weight * ((pred - noise) ** 2).mean(dim=(1, 2, 3))).mean()
            else:
                loss = F.mse_loss(pred, noise)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            decay = min(0.995, (1 + step) / (10 + step))
            with torch.no_grad():
                for ema, live in ((ema_text, text), (ema_unet, unet)):
                    for pe, pl in zip(ema.parameters(), live.parameters()):
                        pe.mul_(decay).add_(pl, alpha=1 - decay)
            running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
            if step % 20 == 0 or step == steps:
                self.log('unet', {'step': step, 'loss': round(loss.item(), 5), 'smoothed': round(running, 5), 'lr': round(lr, 7), 'wall_s': round(time.time() - t0, 1)})
            if time.time() - last_save > self.cfg['save_every_s'] or step == steps:
                self.save_state('unet', {'text': text.state_dict(), 'unet': unet.state_dict(), 'ema_text': ema_text.state_dict(),
                                         'ema_unet': ema_unet.state_dict(), 'opt': opt.state_dict(), 'rng': gen.get_state(),
                                         'step': step, 'elapsed': time.time() - t0})
                last_save = time.time()
        self.mark_done('unet', {'steps': step, 'seconds': round(time.time() - t0, 1), 'smoothed_loss': running})

    def stage_judge(self):
        """Trained on its own renders (another seed than the diffusion set), half of them passed
        through the VAE so that it judges decoded images as well as clean ones."""
        vae = self.trained_vae()
        torch.manual_seed(SEEDS['judge'])
        judge = Judge(len(self.world.objects), len(self.world.styles), self.cfg['judge_width'])
        opt = torch.optim.AdamW(judge.parameters(), lr=2e-3, weight_decay=1e-4)
        gen = torch.Generator().manual_seed(SEEDS['judge'])
        step, elapsed = self.restore('judge', {'model': judge}, opt, gen)
        steps, batch = self.cfg['judge_steps'], self.cfg['judge_batch']
        last_save, t0 = time.time(), time.time() - elapsed
        while step < steps:
            lr = 2e-3 * 0.5 * (1 + math.cos(math.pi * step / steps))
            for g in opt.param_groups:
                g['lr'] = lr
            attrs = self.world.sample_attributes(batch, gen)
            images = self.world.render(attrs, gen)
            images = self.reconstruct_some(vae, images, gen)
            judge.train()
            obj, sty = judge(images)
            loss = F.cross_entropy(obj, attrs['class']) + F.cross_entropy(sty, attrs['style'])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % 20 == 0 or step == steps:
                self.log('judge', {'step': step, 'loss': round(loss.item(), 5), 'lr': round(lr, 6), 'wall_s': round(time.time() - t0, 1)})
            if time.time() - last_save > self.cfg['save_every_s'] or step == steps:
                self.save_state('judge', {'model': judge.state_dict(), 'opt': opt.state_dict(), 'rng': gen.get_state(), 'step': step, 'elapsed': time.time() - t0})
                last_save = time.time()
        report = self.judge_accuracy(judge.eval(), vae)
        self.mark_done('judge', {'steps': step, 'seconds': round(time.time() - t0, 1), **report})

    def reconstruct_some(self, vae, images, gen):
        half = images.shape[0] // 2
        with torch.no_grad():
            x = images[:half] * 2 - 1
            y = vae.decode(vae.encode(x)[0]).clamp(-1, 1) * 0.5 + 0.5
        return torch.cat([y, images[half:]])

    def judge_accuracy(self, judge, vae):
        gen = torch.Generator().manual_seed(SEEDS['judge_eval'])
        n = 2000 if self.config_name == 'full' else 16
        attrs = self.world.sample_attributes(n, gen)
        images = self.world.render(attrs, gen)
        with torch.no_grad():
            recon = torch.cat([vae.decode(vae.encode(images[i:i + 250] * 2 - 1)[0]).clamp(-1, 1) * 0.5 + 0.5 for i in range(0, n, 250)])
            report = {}
            for name, x in (('renders', images), ('vae_reconstructions', recon)):
                obj, sty = judge(x)
                report[name] = {'object_accuracy': (obj.argmax(1) == attrs['class']).float().mean().item(),
                                'style_accuracy': (sty.argmax(1) == attrs['style']).float().mean().item(), 'images': n}
        return report

    def stage_export(self):
        latents = torch.load(self.path('ckpt', 'latents.pt'))
        unet_state = self.load_state('unet')
        vae = self.trained_vae()
        repo = self.path('diffusers')
        for sub in ('text_encoder', 'unet', 'vae', 'scheduler'):
            os.makedirs(os.path.join(repo, sub), exist_ok=True)
        half = lambda sd: {k: v.half() for k, v in sd.items()}  # noqa: E731
        text_sd = half(unet_state['ema_text'])
        unet_sd = half(unet_state['ema_unet'])
        vae_sd = half(vae.state_dict())
        safetensors_io.save(text_sd, os.path.join(repo, 'text_encoder', 'model.safetensors'), {'format': 'pt'})
        safetensors_io.save(unet_sd, os.path.join(repo, 'unet', 'diffusion_pytorch_model.safetensors'), {'format': 'pt'})
        safetensors_io.save(vae_sd, os.path.join(repo, 'vae', 'diffusion_pytorch_model.safetensors'), {'format': 'pt'})
        write_json(os.path.join(repo, 'text_encoder', 'config.json'), self.text_config())
        write_json(os.path.join(repo, 'unet', 'config.json'), self.unet_config())
        write_json(os.path.join(repo, 'vae', 'config.json'), self.vae_config(round(latents['scaling_factor'], 5)))
        write_json(os.path.join(repo, 'scheduler', 'scheduler_config.json'), {
            '_class_name': 'DDIMScheduler', '_diffusers_version': '0.30.0', 'beta_end': 0.012, 'beta_schedule': 'scaled_linear',
            'beta_start': 0.00085, 'clip_sample': False, 'num_train_timesteps': 1000, 'prediction_type': 'epsilon',
            'set_alpha_to_one': False, 'steps_offset': 1, 'trained_betas': None, 'timestep_spacing': 'leading'})
        write_json(os.path.join(repo, 'model_index.json'), {
            '_class_name': 'StableDiffusionPipeline', '_diffusers_version': '0.30.0', 'feature_extractor': [None, None],
            'image_encoder': [None, None], 'requires_safety_checker': False, 'safety_checker': [None, None],
            'scheduler': ['diffusers', 'DDIMScheduler'], 'text_encoder': ['transformers', 'CLIPTextModel'],
            'tokenizer': ['transformers', 'CLIPTokenizer'], 'unet': ['diffusers', 'UNet2DConditionModel'],
            'vae': ['diffusers', 'AutoencoderKL']})
        self.export_parity_fixture(text_sd, unet_sd, vae_sd, latents['scaling_factor'])
        if self.done('judge'):
            self.export_judge()
        self.mark_done('export', {'repo': repo})

    def export_parity_fixture(self, text_sd, unet_sd, vae_sd, scaling):
        """The trainer's own forward on the shipped (fp16-rounded) weights, for Lethe to match."""
        text = ClipTextModel(self.text_config())
        text.load_state_dict({k: v.float() for k, v in text_sd.items()})
        unet = UNet2DConditionModel(self.unet_config())
        unet.load_state_dict({k: v.float() for k, v in unet_sd.items()})
        vae = AutoencoderKL(self.vae_config())
        vae.load_state_dict({k: v.float() for k, v in vae_sd.items()})
        gen = torch.Generator().manual_seed(SEEDS['parity'])
        prompts = ['a photo of a cat', 'a neon dog']
        ids = torch.tensor([self.tokenizer.encode(p) for p in prompts])
        latent = torch.randn(2, 4, 8, 8, generator=gen)
        timesteps = torch.tensor([500, 500])
        with torch.no_grad():
            hidden = text.eval()(ids)
            eps = unet.eval()(latent, timesteps, hidden)
            image = vae.eval().decode(latent / scaling)
        safetensors_io.save({'input_ids': ids.int(), 'latent': latent, 'timesteps': timesteps.int(), 'text_hidden': hidden,
                             'noise_pred': eps, 'decoded': image},
                            self.path('parity.safetensors'), {'prompts': json.dumps(prompts)})
        captions = {}
        cap_gen = torch.Generator().manual_seed(SEEDS['parity'])
        attrs = self.world.sample_attributes(40, cap_gen)
        for i in range(40):
            c = self.world.caption(attrs, i, cap_gen, empty_rate=0.0)
            captions[c] = self.tokenizer.encode(c)
        write_json(self.path('tokenizer-parity.json'), captions)

    def export_judge(self):
        judge = Judge(len(self.world.objects), len(self.world.styles), self.cfg['judge_width'])
        judge.load_state_dict(self.load_state('judge')['model'])
        judge.eval()
        example = torch.rand(2, 3, 64, 64)
        torch.onnx.export(judge, (example,), self.path('judge.onnx'), input_names=['pixels'],
                          output_names=['object_logits', 'style_logits'],
                          dynamic_axes={'pixels': {0: 'batch'}, 'object_logits': {0: 'batch'}, 'style_logits': {0: 'batch'}},
                          opset_version=13, do_constant_folding=True)
        with torch.no_grad():
            obj, sty = judge(example)
        safetensors_io.save({'pixels': example, 'object_logits': obj, 'style_logits': sty}, self.path('judge-parity.safetensors'))
        report = json.load(open(self.path('ckpt', 'judge.done')))
        write_json(self.path('judge.json'), {
            'input': {'name': 'pixels', 'shape': ['batch', 3, 64, 64], 'range': [0, 1], 'layout': 'NCHW RGB'},
            'objects': self.world.objects, 'styles': self.world.styles,
            'outputs': {'object_logits': self.world.objects, 'style_logits': self.world.styles},
            'accuracy': {k: report[k] for k in ('renders', 'vae_reconstructions')}, 'training_steps': report['steps']})


def noise_schedule():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1 - betas, 0).float()


def write_json(path, value):
    with open(path, 'w') as f:
        json.dump(value, f, indent=2)
        f.write('\n')


def parse_weights(flag, text):
    """'name=weight,...' into {name: weight}; a malformed item stops the run with the flag named."""
    weights = {}
    for item in filter(None, text.split(',')):
        name, _, value = item.partition('=')
        try:
            weight = float(value)
        except ValueError:
            weight = -1.0
        if not name.strip() or not weight > 0:
            raise SystemExit(f'{flag}: expected name=weight with a positive weight, got {item!r}')
        weights[name.strip()] = weight
    return weights


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--out', required=True)
    parser.add_argument('--config', default='full', choices=sorted(CONFIGS))
    parser.add_argument('--stage', default='all', choices=['all', 'data', 'vae', 'encode', 'unet', 'judge', 'export'])
    parser.add_argument('--init-from', help='a trained diffusers repo of the same config to fine-tune from')
    parser.add_argument('--class-weights', default='', help='class=weight,... how often the UNet sees those classes (default 1)')
    parser.add_argument('--style-weights', default='', help="style=weight,... likewise for styles ('pencil sketch=2')")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get('LETHE_TORCH_THREADS', '1')))
    run = Run(args.out, args.config, args.init_from, parse_weights('--class-weights', args.class_weights), parse_weights('--style-weights', args.style_weights))
    stages = ['data', 'vae', 'encode', 'unet', 'judge', 'export'] if args.stage == 'all' else [args.stage]
    for stage in stages:
        if stage != 'export' and run.done(stage):
            print(f'{stage}: done already', flush=True)
            continue
        t0 = time.time()
        getattr(run, f'stage_{stage}')()
        print(f'{stage}: finished in {time.time() - t0:.1f} s', flush=True)


if __name__ == '__main__':
    main()
