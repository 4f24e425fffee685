"""The concept world's images and captions, deterministic from a torch.Generator.

An image is one emoji glyph of a class (Noto Emoji), scaled, moved, slightly rotated and maybe
mirrored, over a background (flat color, gradient or a sky/ground scene), then drawn in a style.
A caption names the class by its name or a MACE synonym through a training template; captions
that name no style describe plain images, so "a photo of a cat" means an ordinary cat."""
import json
import math
import os

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD_JSON = os.path.join(HERE, '..', '..', '..', 'public', 'concept-world', 'world.json')

# Named background colors (RGB in [0, 1]); captions name them, so they must look like their names.
COLOR_RGB = {
    'red': (0.85, 0.12, 0.12), 'orange': (0.98, 0.55, 0.1), 'yellow': (0.98, 0.9, 0.15),
    'green': (0.2, 0.7, 0.25), 'blue': (0.15, 0.35, 0.9), 'purple': (0.55, 0.2, 0.75),
    'pink': (0.98, 0.6, 0.78), 'white': (0.97, 0.97, 0.97), 'gray': (0.5, 0.5, 0.5), 'brown': (0.5, 0.3, 0.12),
}
STYLE_SHARES = (0.4, 0.2, 0.2, 0.2)  # plain, pixel art, pencil sketch, neon
PIXEL_ART_CELL = 8  # pixels; the VAE's downsampling factor
# Vocabulary words that a reader takes for one of the classes (a tabby is a cat), kept out of
# caption noise so that it never pairs them with another class.
# A hint also rules out every longer word containing it (noise_word_pool), so "animal" covers
# "animals" (and "wing" also "showing").
CLASS_HINTS = ('tabby', 'retriever', 'springer', 'animal', 'face', 'flying', 'sailing', 'driving', 'tench', 'wing')


def load_world():
    with open(WORLD_JSON) as f:
        return json.load(f)


def load_glyphs(out_dir):
    with open(os.path.join(out_dir, 'glyphs.json')) as f:
        meta = json.load(f)
    size = meta['size']
    raw = open(os.path.join(out_dir, 'glyphs.bin'), 'rb').read()
    rgba = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(len(meta['glyphs']), size, size, 4)
    rgba = rgba.permute(0, 3, 1, 2).float() / 255.0
    # resvg writes premultiplied alpha; un-premultiply so compositing is plain "over".
    alpha = rgba[:, 3:4]
    rgb = torch.where(alpha > 0, rgba[:, :3] / alpha.clamp(min=1e-6), torch.zeros_like(rgba[:, :3]))
    classes = torch.tensor([g['classIndex'] for g in meta['glyphs']])
    return torch.cat([rgb.clamp(0, 1), alpha], dim=1), classes


class World:
    def __init__(self, glyph_dir):
        self.spec = load_world()
        self.glyphs, self.glyph_class = load_glyphs(glyph_dir)
        self.objects = [o['name'] for o in self.spec['objects']]
        self.styles = [s['name'] for s in self.spec['styles']]
        self.glyphs_of_class = [torch.nonzero(self.glyph_class == c).flatten() for c in range(len(self.objects))]
        self.color_names = self.spec['colors']
        self.color_rgb = torch.tensor([COLOR_RGB[c] for c in self.color_names])
        self.templates = self.spec['trainingTemplates']

    # ------------------------------------------------------------ images

    def sample_attributes(self, n, gen):
        classes = torch.randint(len(self.objects), (n,), generator=gen)
        styles = torch.multinomial(torch.tensor(STYLE_SHARES), n, replacement=True, generator=gen)
        glyph = torch.stack([self.glyphs_of_class[c][torch.randint(len(self.glyphs_of_class[c]), (1,), generator=gen)][0] for c in classes.tolist()])
        # Background: 0 flat named color, 1 gradient, 2 sky over ground.
        background = torch.multinomial(torch.tensor([0.5, 0.25, 0.25]), n, replacement=True, generator=gen)
        color = torch.randint(len(self.color_names), (n,), generator=gen)
        return {'class': classes, 'style': styles, 'glyph': glyph, 'background': background, 'color': color}

    def render(self, attrs, gen):
        """Images (N, 3, 64, 64) in [0, 1] for the attributes."""
        n = attrs['class'].shape[0]
        size = self.glyphs.shape[-1]
        scale = 0.6 + 0.35 * torch.rand(n, generator=gen)
        angle = (torch.rand(n, generator=gen) - 0.5) * (math.pi / 6)
        flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
        room = 1.0 - scale
        shift = (torch.rand(n, 2, generator=gen) - 0.5) * 2 * room[:, None] * 0.9
        cos, sin = torch.cos(angle), torch.sin(angle)
        # affine_grid maps output coords to input coords: inverse of scale/rotate/flip/shift.
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = cos / scale * flip
        theta[:, 0, 1] = -sin / scale * flip
        theta[:, 1, 0] = sin / scale
        theta[:, 1, 1] = cos / scale
        theta[:, :, 2] = -(theta[:, :, :2] @ shift[:, :, None])[:, :, 0]
        grid = F.affine_grid(theta, (n, 4, size, size), align_corners=False)
        glyph = F.grid_sample(self.glyphs[attrs['glyph']], grid, mode='bilinear', padding_mode='zeros', align_corners=False)
        rgb, alpha = glyph[:, :3], glyph[:, 3:4]
        back = self.backgrounds(attrs, gen, size)
        image = rgb * alpha + back * (1 - alpha)
        return self.stylize(image, alpha, attrs['style'], gen)

    def backgrounds(self, attrs, gen, size):
        n = attrs['class'].shape[0]
        jitter = (torch.rand(n, 3, generator=gen) - 0.5) * 0.12
        flat = (self.color_rgb[attrs['color']] + jitter).clamp(0, 1)[:, :, None, None].expand(n, 3, size, size)
        top, bottom = torch.rand(n, 3, generator=gen), torch.rand(n, 3, generator=gen)
        ramp = torch.linspace(0, 1, size)[None, None, :, None]
        gradient = top[:, :, None, None] * (1 - ramp) + bottom[:, :, None, None] * ramp
        gradient = gradient.expand(n, 3, size, size)
        sky = torch.tensor([0.45, 0.7, 0.95])[None, :] + (torch.rand(n, 3, generator=gen) - 0.5) * 0.2
        ground = torch.tensor([[0.3, 0.65, 0.25], [0.85, 0.75, 0.5], [0.2, 0.35, 0.75]])[torch.randint(3, (n,), generator=gen)]
        horizon = (0.55 + 0.3 * torch.rand(n, generator=gen)) * size
        rows = torch.arange(size)[None, :].float()
        below = (rows >= horizon[:, None]).float()[:, None, :, None]
        scene = sky[:, :, None, None] * (1 - below) + ground[:, :, None, None] * below
        scene = scene.expand(n, 3, size, size).clamp(0, 1)
        kind = attrs['background'][:, None, None, None]
        return torch.where(kind == 0, flat, torch.where(kind == 1, gradient, scene))

    @staticmethod
    def edges(gray):
        kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])[None, None]
        gx = F.conv2d(gray, kx, padding=1)
        gy = F.conv2d(gray, kx.transpose(-1, -2), padding=1)
        return (gx ** 2 + gy ** 2).sqrt()

    def stylize(self, image, alpha, style, gen):
        out = image.clone()
        n = image.shape[0]
        # Pixel art: 8x8-pixel cells on the image grid, few colors. A cell is then exactly one
        # latent cell of the VAE (which downsamples by 8), so the UNet can draw a cell as one flat
        # latent; 4x4 cells were finer than a latent and came out as plain images.
        cell = PIXEL_ART_CELL
        pixel = F.interpolate(F.avg_pool2d(image, cell), scale_factor=cell, mode='nearest')
        pixel = (pixel * 4).round() / 4
        # Pencil sketch: thick dark strokes where the picture changes, soft gray shading, paper.
        gray = (image * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(1, keepdim=True)
        strokes = F.max_pool2d(self.edges(gray), 3, stride=1, padding=1).clamp(0, 1.5) / 1.5
        paper = 0.93 + 0.04 * torch.rand(n, 1, 1, 1, generator=gen)
        shade = 0.75 + 0.25 * gray
        sketch = (paper * shade * (1 - 0.85 * strokes)).expand(n, 3, -1, -1)
        # Neon: the object's outline glowing in its own (brightened) colors on black.
        outline = F.max_pool2d(self.edges(alpha), 3, stride=1, padding=1).clamp(0, 1)
        glow = F.avg_pool2d(outline, 5, stride=1, padding=2)
        hue = image / image.amax(dim=1, keepdim=True).clamp(min=0.2)
        neon = (hue * (outline + 0.6 * glow) + 0.15 * alpha * image).clamp(0, 1)
        s = style[:, None, None, None]
        out = torch.where(s == 1, pixel, out)
        out = torch.where(s == 2, sketch, out)
        out = torch.where(s == 3, neon, out)
        return out.clamp(0, 1)

    # ------------------------------------------------------------ captions

    def caption(self, attrs, i, gen, empty_rate=None):
        """One training caption for image i (a fresh template and wording on every call)."""
        empty_rate = self.spec['emptyCaptionRate'] if empty_rate is None else empty_rate
        if torch.rand(1, generator=gen).item() < empty_rate:
            return ''
        style = attrs['style'][i].item()
        obj = self.spec['objects'][attrs['class'][i].item()]
        flat = attrs['background'][i].item() == 0
        # Sketch and neon replace the background, so no caption names its color.
        keeps_background = style in (0, 1)
        candidates = [t for t in self.templates
                      if ('{style}' in t or style == 0) and ('{color}' not in t or (flat and keeps_background))]
        template = candidates[torch.randint(len(candidates), (1,), generator=gen).item()]
        words = [obj['name']] * 3 + obj['synonyms']
        word = words[torch.randint(len(words), (1,), generator=gen).item()]
        style_words = self.spec['styles'][style]['words']
        style_word = style_words[torch.randint(len(style_words), (1,), generator=gen).item()]
        text = template.replace('{object}', word).replace('{style}', style_word)
        text = text.replace('{color}', self.color_names[attrs['color'][i].item()])
        return fix_articles(' '.join(text.split()))


def noise_word_pool(vocab, spec):
    """The vocabulary's whole words that name no class, synonym, style or color: what caption noise
    inserts. The real CLIP text encoder has seen every word of its vocabulary in pretraining; ours
    sees only the captions, so a word outside them keeps its random initial embedding and pulls
    the picture somewhere arbitrary (unseen "there is a cat here" drew pixel art). Inserting
    these words at random teaches the encoder that a word naming no concept changes nothing."""
    named = set(spec['colors'])
    for obj in spec['objects']:
        for phrase in [obj['name'], *obj['synonyms']]:
            named.update(phrase.split())
    for style in spec['styles']:
        for phrase in [style['name'], *style['words']]:
            named.update(phrase.replace('-', ' ').split())
    named.update(CLASS_HINTS)
    words = (token[:-4] for token in vocab if token.endswith('</w>'))
    # A named word of three letters or more contains itself, so the substring test also excludes it.
    long_names = [n for n in named if len(n) > 2]
    return sorted(w for w in words if w.isalpha() and len(w) > 2 and not any(n in w for n in long_names))


def insert_noise_words(text, pool, rate, gen):
    """With probability rate, one or two pool words at random places in a non-empty caption."""
    if not text or not pool or torch.rand(1, generator=gen).item() >= rate:
        return text
    words = text.split(' ')
    for _ in range(1 + torch.randint(2, (1,), generator=gen).item()):
        word = pool[torch.randint(len(pool), (1,), generator=gen).item()]
        words.insert(torch.randint(len(words) + 1, (1,), generator=gen).item(), word)
    return fix_articles(' '.join(words))


def fix_articles(text):
    words = text.split(' ')
    for i in range(len(words) - 1):
        if words[i] == 'a' and words[i + 1][:1] in 'aeiou':
            words[i] = 'an'
        elif words[i] == 'an' and words[i + 1][:1] not in 'aeiou':
            words[i] = 'a'
    return ' '.join(words)
