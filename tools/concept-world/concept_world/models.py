"""Stable Diffusion's three models in plain PyTorch, with exactly the parameter names of
transformers' CLIPTextModel and diffusers' UNet2DConditionModel and AutoencoderKL, so that a
state_dict saved as safetensors is a genuine diffusers repo. Only what SD 1.x uses is built.
The judge is a small CNN classifier (object class and style), exported to ONNX."""
import math

import torch
import torch.nn.functional as F
from torch import nn


# ---------------------------------------------------------------- text encoder (CLIPTextModel)

class ClipAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x, mask):
        b, n, d = x.shape
        h = self.heads

        def split(t):
            return t.view(b, n, h, d // h).transpose(1, 2)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d // h) + mask
        out = scores.softmax(-1) @ v
        return self.out_proj(out.transpose(1, 2).reshape(b, n, d))


class ClipMlp(nn.Module):
    def __init__(self, dim, hidden, activation):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.activation = activation

    def forward(self, x):
        x = self.fc1(x)
        x = x * torch.sigmoid(1.702 * x) if self.activation == 'quick_gelu' else F.gelu(x)
        return self.fc2(x)


class ClipLayer(nn.Module):
    def __init__(self, dim, heads, hidden, activation, eps):
        super().__init__()
        self.self_attn = ClipAttention(dim, heads)
        self.layer_norm1 = nn.LayerNorm(dim, eps=eps)
        self.mlp = ClipMlp(dim, hidden, activation)
        self.layer_norm2 = nn.LayerNorm(dim, eps=eps)

    def forward(self, x, mask):
        x = x + self.self_attn(self.layer_norm1(x), mask)
        return x + self.mlp(self.layer_norm2(x))


class ClipEmbeddings(nn.Module):
    def __init__(self, vocab, dim, positions):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, dim)
        self.position_embedding = nn.Embedding(positions, dim)


class ClipEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList(
            ClipLayer(cfg['hidden_size'], cfg['num_attention_heads'], cfg['intermediate_size'], cfg['hidden_act'], cfg['layer_norm_eps'])
            for _ in range(cfg['num_hidden_layers']))


class ClipTextTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = ClipEmbeddings(cfg['vocab_size'], cfg['hidden_size'], cfg['max_position_embeddings'])
        self.encoder = ClipEncoder(cfg)
        self.final_layer_norm = nn.LayerNorm(cfg['hidden_size'], eps=cfg['layer_norm_eps'])


class ClipTextModel(nn.Module):
    """last_hidden_state of CLIPTextModel: causal self-attention, no padding mask (as SD feeds it)."""

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.text_model = ClipTextTransformer(cfg)

    def forward(self, ids):
        t = self.text_model
        n = ids.shape[1]
        x = t.embeddings.token_embedding(ids) + t.embeddings.position_embedding.weight[:n]
        mask = torch.full((n, n), float('-inf'), device=ids.device).triu(1)
        for layer in t.encoder.layers:
            x = layer(x, mask)
        return t.final_layer_norm(x)


# ---------------------------------------------------------------- shared blocks

class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, groups, eps, temb_channels=None):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, cin, eps=eps)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        if temb_channels is not None:
            self.time_emb_proj = nn.Linear(temb_channels, cout)
        self.norm2 = nn.GroupNorm(groups, cout, eps=eps)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        if cin != cout:
            self.conv_shortcut = nn.Conv2d(cin, cout, 1)

    def forward(self, x, temb=None):
        h = self.conv1(F.silu(self.norm1(x)))
        if temb is not None:
            h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        if hasattr(self, 'conv_shortcut'):
            x = self.conv_shortcut(x)
        return x + h


class Downsample2D(nn.Module):
    """UNet: padded stride-2 conv. VAE encoder: padding 0 after an explicit (0,1,0,1) pad."""

    def __init__(self, channels, padding):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1))
        return self.conv(x)


class Upsample2D(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode='nearest'))


class Attention(nn.Module):
    """diffusers Attention: to_q/to_k/to_v (biases only in the VAE), to_out.0."""

    def __init__(self, query_dim, heads, context_dim=None, bias=False, group_norm=None):
        super().__init__()
        context_dim = context_dim or query_dim
        self.heads = heads
        if group_norm is not None:
            self.group_norm = nn.GroupNorm(group_norm, query_dim, eps=1e-6)
        self.to_q = nn.Linear(query_dim, query_dim, bias=bias)
        self.to_k = nn.Linear(context_dim, query_dim, bias=bias)
        self.to_v = nn.Linear(context_dim, query_dim, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(query_dim, query_dim)])

    def attend(self, x, context):
        b, n, d = x.shape
        h = self.heads
        q = self.to_q(x).view(b, n, h, d // h).transpose(1, 2)
        k = self.to_k(context).view(b, context.shape[1], h, d // h).transpose(1, 2)
        v = self.to_v(context).view(b, context.shape[1], h, d // h).transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(d // h)
        out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, n, d)
        return self.to_out[0](out)

    def forward_spatial(self, x):
        """VAE mid-block attention over the pixels of a (B, C, H, W) map, with its residual."""
        b, c, hh, ww = x.shape
        h = self.group_norm(x).view(b, c, hh * ww).transpose(1, 2)
        out = self.attend(h, h).transpose(1, 2).view(b, c, hh, ww)
        return x + out


# ---------------------------------------------------------------- UNet2DConditionModel

class FeedForward(nn.Module):
    """GEGLU feed-forward: net.0.proj (dim -> 2*inner), net.2 (inner -> dim)."""

    def __init__(self, dim):
        super().__init__()
        inner = dim * 4
        self.net = nn.ModuleList([GegluProjection(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim)])

    def forward(self, x):
        return self.net[2](self.net[0](x))


class GegluProjection(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        hidden, gate = self.proj(x).chunk(2, dim=-1)
        return hidden * F.gelu(gate)


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, heads, context_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.attn2 = Attention(dim, heads, context_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.ff = FeedForward(dim)

    def forward(self, x, context):
        h = self.norm1(x)
        x = x + self.attn1.attend(h, h)
        x = x + self.attn2.attend(self.norm2(x), context)
        return x + self.ff(self.norm3(x))


class Transformer2DModel(nn.Module):
    def __init__(self, channels, heads, context_dim, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(channels, heads, context_dim)])
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x, context):
        b, c, h, w = x.shape
        y = self.proj_in(self.norm(x)).permute(0, 2, 3, 1).reshape(b, h * w, c)
        for block in self.transformer_blocks:
            y = block(y, context)
        y = y.reshape(b, h, w, c).permute(0, 3, 1, 2)
        return self.proj_out(y) + x


class UNetDownBlock(nn.Module):
    def __init__(self, cin, cout, layers, temb, groups, eps, heads, context_dim, attention, downsample):
        super().__init__()
        self.resnets = nn.ModuleList(ResnetBlock2D(cin if i == 0 else cout, cout, groups, eps, temb) for i in range(layers))
        if attention:
            self.attentions = nn.ModuleList(Transformer2DModel(cout, heads, context_dim, groups) for _ in range(layers))
        if downsample:
            self.downsamplers = nn.ModuleList([Downsample2D(cout, padding=1)])

    def forward(self, x, temb, context):
        skips = []
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if hasattr(self, 'attentions'):
                x = self.attentions[i](x, context)
            skips.append(x)
        if hasattr(self, 'downsamplers'):
            x = self.downsamplers[0](x)
            skips.append(x)
        return x, skips


class UNetUpBlock(nn.Module):
    def __init__(self, cin, prev, cout, layers, temb, groups, eps, heads, context_dim, attention, upsample):
        super().__init__()
        resnets = []
        for i in range(layers):
            skip = cin if i == layers - 1 else cout
            resnets.append(ResnetBlock2D((prev if i == 0 else cout) + skip, cout, groups, eps, temb))
        self.resnets = nn.ModuleList(resnets)
        if attention:
            self.attentions = nn.ModuleList(Transformer2DModel(cout, heads, context_dim, groups) for _ in range(layers))
        if upsample:
            self.upsamplers = nn.ModuleList([Upsample2D(cout)])

    def forward(self, x, skips, temb, context):
        for i, resnet in enumerate(self.resnets):
            x = resnet(torch.cat([x, skips.pop()], dim=1), temb)
            if hasattr(self, 'attentions'):
                x = self.attentions[i](x, context)
        if hasattr(self, 'upsamplers'):
            x = self.upsamplers[0](x)
        return x


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class UNetMidBlock(nn.Module):
    def __init__(self, channels, temb, groups, eps, heads, context_dim):
        super().__init__()
        self.resnets = nn.ModuleList(ResnetBlock2D(channels, channels, groups, eps, temb) for _ in range(2))
        self.attentions = nn.ModuleList([Transformer2DModel(channels, heads, context_dim, groups)])

    def forward(self, x, temb, context):
        x = self.resnets[0](x, temb)
        x = self.attentions[0](x, context)
        return self.resnets[1](x, temb)


def timestep_features(t, dim):
    """Sinusoidal features as diffusers' get_timestep_embedding with flip_sin_to_cos=True, shift 0."""
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    angles = t.float()[:, None] * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class UNet2DConditionModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        ch = cfg['block_out_channels']
        groups, eps = cfg['norm_num_groups'], cfg['norm_eps']
        heads = cfg['attention_head_dim']
        heads = heads if isinstance(heads, list) else [heads] * len(ch)
        ctx = cfg['cross_attention_dim']
        layers = cfg['layers_per_block']
        temb = ch[0] * 4
        self.conv_in = nn.Conv2d(cfg['in_channels'], ch[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(ch[0], temb)
        blocks = len(ch)
        self.down_blocks = nn.ModuleList(
            UNetDownBlock(ch[max(i - 1, 0)], ch[i], layers, temb, groups, eps, heads[i], ctx, attention=i < blocks - 1, downsample=i < blocks - 1)
            for i in range(blocks))
        self.mid_block = UNetMidBlock(ch[-1], temb, groups, eps, heads[-1], ctx)
        rev, rev_heads = list(reversed(ch)), list(reversed(heads))
        ups = []
        for i in range(blocks):
            prev = rev[max(i - 1, 0)]
            cin = rev[min(i + 1, blocks - 1)]
            ups.append(UNetUpBlock(cin, prev, rev[i], layers + 1, temb, groups, eps, rev_heads[i], ctx, attention=i > 0, upsample=i < blocks - 1))
        self.up_blocks = nn.ModuleList(ups)
        self.conv_norm_out = nn.GroupNorm(groups, ch[0], eps=eps)
        self.conv_out = nn.Conv2d(ch[0], cfg['out_channels'], 3, padding=1)

    def forward(self, sample, t, context):
        temb = self.time_embedding(timestep_features(t, self.config['block_out_channels'][0]))
        x = self.conv_in(sample)
        skips = [x]
        for block in self.down_blocks:
            x, block_skips = block(x, temb, context)
            skips.extend(block_skips)
        x = self.mid_block(x, temb, context)
        for block in self.up_blocks:
            n = len(block.resnets)
            x = block(x, skips[-n:], temb, context)
            del skips[-n:]
        return self.conv_out(F.silu(self.conv_norm_out(x)))


# ---------------------------------------------------------------- AutoencoderKL

class VaeMidBlock(nn.Module):
    def __init__(self, channels, groups):
        super().__init__()
        self.resnets = nn.ModuleList(ResnetBlock2D(channels, channels, groups, 1e-6) for _ in range(2))
        self.attentions = nn.ModuleList([Attention(channels, 1, bias=True, group_norm=groups)])

    def forward(self, x):
        x = self.resnets[0](x)
        x = self.attentions[0].forward_spatial(x)
        return self.resnets[1](x)


class VaeDownBlock(nn.Module):
    def __init__(self, cin, cout, layers, groups, downsample):
        super().__init__()
        self.resnets = nn.ModuleList(ResnetBlock2D(cin if i == 0 else cout, cout, groups, 1e-6) for i in range(layers))
        if downsample:
            self.downsamplers = nn.ModuleList([Downsample2D(cout, padding=0)])

    def forward(self, x):
        for resnet in self.resnets:
            x = resnet(x)
        return self.downsamplers[0](x) if hasattr(self, 'downsamplers') else x


class VaeUpBlock(nn.Module):
    def __init__(self, cin, cout, layers, groups, upsample):
        super().__init__()
        self.resnets = nn.ModuleList(ResnetBlock2D(cin if i == 0 else cout, cout, groups, 1e-6) for i in range(layers))
        if upsample:
            self.upsamplers = nn.ModuleList([Upsample2D(cout)])

    def forward(self, x):
        for resnet in self.resnets:
            x = resnet(x)
        return self.upsamplers[0](x) if hasattr(self, 'upsamplers') else x


class VaeEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, groups, layers = cfg['block_out_channels'], cfg['norm_num_groups'], cfg['layers_per_block']
        self.conv_in = nn.Conv2d(cfg['in_channels'], ch[0], 3, padding=1)
        self.down_blocks = nn.ModuleList(VaeDownBlock(ch[max(i - 1, 0)], ch[i], layers, groups, i < len(ch) - 1) for i in range(len(ch)))
        self.mid_block = VaeMidBlock(ch[-1], groups)
        self.conv_norm_out = nn.GroupNorm(groups, ch[-1], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[-1], 2 * cfg['latent_channels'], 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for block in self.down_blocks:
            x = block(x)
        x = self.mid_block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class VaeDecoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, groups, layers = cfg['block_out_channels'], cfg['norm_num_groups'], cfg['layers_per_block']
        rev = list(reversed(ch))
        self.conv_in = nn.Conv2d(cfg['latent_channels'], rev[0], 3, padding=1)
        self.mid_block = VaeMidBlock(rev[0], groups)
        self.up_blocks = nn.ModuleList(VaeUpBlock(rev[max(i - 1, 0)], rev[i], layers + 1, groups, i < len(ch) - 1) for i in range(len(ch)))
        self.conv_norm_out = nn.GroupNorm(groups, ch[0], eps=1e-6)
        self.conv_out = nn.Conv2d(ch[0], cfg['out_channels'], 3, padding=1)

    def forward(self, z):
        x = self.mid_block(self.conv_in(z))
        for block in self.up_blocks:
            x = block(x)
        return self.conv_out(F.silu(self.conv_norm_out(x)))


class AutoencoderKL(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.encoder = VaeEncoder(cfg)
        self.decoder = VaeDecoder(cfg)
        latent = cfg['latent_channels']
        self.quant_conv = nn.Conv2d(2 * latent, 2 * latent, 1)
        self.post_quant_conv = nn.Conv2d(latent, latent, 1)

    def encode(self, x):
        """Mean and log-variance of the posterior for images in [-1, 1]."""
        moments = self.quant_conv(self.encoder(x))
        mean, logvar = moments.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))


# ---------------------------------------------------------------- the judge

class Judge(nn.Module):
    """Object class and style of a 64x64 RGB image in [0, 1]."""

    def __init__(self, objects, styles, width=32):
        super().__init__()
        w = width

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))

        self.features = nn.Sequential(block(3, w), block(w, 2 * w), block(2 * w, 4 * w), block(4 * w, 4 * w))
        self.object_head = nn.Linear(4 * w, objects)
        self.style_head = nn.Linear(4 * w, styles)

    def forward(self, pixels):
        x = self.features(pixels * 2.0 - 1.0).mean(dim=(2, 3))
        return self.object_head(x), self.style_head(x)
